"""The Dockerfile builds one non-root image whose entrypoint is the `escalation` command.

No Docker daemon is needed: the file is parsed and each claim checked against the
project (console script, CLI, settings, build context), as a reviewer would.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

import pytest

from escalation.cli.main import parser
from escalation.services.common.settings import Settings

from .manifests import ROOT

Instruction = tuple[str, str]


def instructions() -> list[Instruction]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        logical.append(pending.strip())
        pending = ""
    split = [line.split(None, 1) for line in logical]
    return [(words[0].upper(), words[1] if len(words) > 1 else "") for words in split]


def stages() -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, args))
    return found


def final_stage() -> list[Instruction]:
    return stages()[-1]


def test_multi_stage_with_named_stages_and_a_slim_base():
    all_stages = stages()
    assert len(all_stages) >= 2, "build in one stage, copy the result into a fresh one"
    names = []
    for stage in all_stages[:-1]:
        match = re.fullmatch(r"\S+\s+AS\s+(\S+)", stage[0][1], re.IGNORECASE)
        assert match, f"name the build stage: {stage[0][1]}"
        names.append(match.group(1))
    assert "slim" in final_stage()[0][1], "the runtime stage starts from a slim base"
    for keyword, args in final_stage():
        if keyword == "COPY" and "--from=" in args:
            source = re.search(r"--from=(\S+)", args).group(1)
            assert source in names, f"COPY --from={source} names no earlier stage"


def test_runs_as_a_numeric_non_root_user_before_entrypoint_and_cmd():
    keywords = [keyword for keyword, _ in final_stage()]
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    user, _, group = users[-1].partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert user.isdigit() and int(user) != 0, users[-1]
    assert not group or (group.isdigit() and int(group) != 0), users[-1]
    last_user = max(i for i, k in enumerate(keywords) if k == "USER")
    for keyword in ("ENTRYPOINT", "CMD"):
        assert keyword in keywords, f"the runtime stage has no {keyword}"
        assert keywords.index(keyword) > last_user, f"{keyword} comes before USER"


def exec_form(keyword: str) -> list[str]:
    (args,) = [args for k, args in final_stage() if k == keyword]
    return json.loads(args)  # exec form: no shell, signals reach the service


def test_entrypoint_is_the_console_script_and_cmd_is_a_cli_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert exec_form("ENTRYPOINT") == ["escalation"]
    assert "escalation" in project["scripts"]
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(exec_form("CMD"))
    assert exit_.value.code == 0, f"`escalation {' '.join(exec_form('CMD'))}` is not a command"


def env_names() -> set[str]:
    names = set()
    for keyword, args in final_stage():
        if keyword == "ENV":
            names |= set(re.findall(r"(\w+)=", args))
    return names


def test_image_settings_are_real_settings_and_no_bytecode_is_written():
    fields = {f"ESCALATION_{name.upper()}" for name in Settings.model_fields}
    unknown = {n for n in env_names() if n.startswith("ESCALATION_")} - fields
    assert not unknown, f"ENV sets variables Settings does not read: {sorted(unknown)}"
    assert "PYTHONDONTWRITEBYTECODE" in env_names(), "the root filesystem is read-only"


def test_exposes_every_service_port():
    exposed = {int(p) for k, a in final_stage() if k == "EXPOSE" for p in a.split()}
    ports = {
        field.default
        for name, field in Settings.model_fields.items()
        if name.endswith("_port") and name != "sink_port"  # the sink is the embedded stack's
    }
    assert ports <= exposed, f"not exposed: {sorted(ports - exposed)}"


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore's rule: the last pattern matching the path or a parent decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        glob = pattern.removeprefix("!").rstrip("/")
        if glob.startswith("**/"):  # at any depth: match a path component's name
            hit = any(fnmatch.fnmatch(part, glob[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, glob) for prefix in prefixes)
        if hit:
            verdict = not pattern.startswith("!")
    return verdict


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_build_context_has_what_copy_needs_and_leaves_out_the_rest():
    patterns = dockerignore()
    for stage in stages():
        for keyword, args in stage:
            if keyword != "COPY" or "--from=" in args:
                continue
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                assert not ignored(source, patterns), f"COPY {source}, but .dockerignore drops it"
    for heavy in (".git", ".venv", "tests", "bench", "deploy", "src/escalation/__pycache__"):
        assert ignored(heavy, patterns), f"{heavy} would be sent to the build"
