"""`escalation policy check`: file errors and the pager's refusals both fail the check."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalation.cli.main import main
from escalation.services.common.supervisor import Supervisor

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "config" / "policy.example.yaml"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SINK_SECRET = "ESCALATION_PAGE_SINK_SECRET"


def check(capsys, *argv) -> tuple[int, str, str]:
    code = main(["policy", "check", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def shell(monkeypatch):
    """A shell that has not set the page sink's variables (`escalation up` sets them)."""
    monkeypatch.delenv(SINK_SECRET, raising=False)
    monkeypatch.delenv("ESCALATION_TARGET_SINK_URL", raising=False)
    return monkeypatch


def test_the_example_passes_as_escalation_up_runs_it(shell, capsys):
    code, out, err = check(capsys, "--embedded", EXAMPLE)
    assert code == 0, err
    assert out.startswith(f"{EXAMPLE}: ok (version ")
    assert out.rstrip().endswith(
        "1 targets (the pager accepts them all in the environment of `escalation up`)"
    )


def test_the_example_fails_where_its_secret_is_not_set(shell, capsys):
    code, out, err = check(capsys, EXAMPLE)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{EXAMPLE}: valid, but the pager would refuse 1 target problem(s) in this environment:",
        "  targets[0].secret.env: target 'ops-webhook' reads its secret from "
        "ESCALATION_PAGE_SINK_SECRET, which is not set",
    ]


def test_the_example_passes_where_its_secret_is_set(shell, capsys):
    shell.setenv(SINK_SECRET, SECRET)
    code, out, err = check(capsys, EXAMPLE)
    assert code == 0, err
    assert "(the pager accepts them all in this environment)" in out


def pagerduty_policy(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text().replace(
        "targets:\n",
        "targets:\n  - {id: pd, type: pagerduty, routing_key: {env: ESCALATION_TARGET_NOPE}}\n",
        1,
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_a_target_without_its_key_fails_in_every_environment(shell, tmp_path, capsys):
    path = pagerduty_policy(tmp_path)
    shell.setenv(SINK_SECRET, SECRET)
    for argv in ((path,), ("--embedded", path)):
        code, out, err = check(capsys, *argv)
        assert code == 1 and out == ""
        assert err.splitlines()[1:] == [
            "  targets[0].routing_key.env: target 'pd' reads its routing key from "
            "ESCALATION_TARGET_NOPE, which is not set or empty"
        ]


def test_file_errors_are_reported_before_any_target_check(shell, tmp_path, capsys):
    path = tmp_path / "policy.yaml"
    path.write_text(EXAMPLE.read_text().replace("team: service-engineers\n", "team: hvac\n"))
    code, out, err = check(capsys, "--embedded", path)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{path}: 1 error(s)",
        "  routes[3].team: unknown team 'hvac'",
    ]


def test_up_refuses_a_policy_its_pager_would_refuse(shell, tmp_path, capsys, monkeypatch):
    async def never(*args, **kwargs):
        raise AssertionError("the stack started")

    monkeypatch.setattr(Supervisor, "run", never)
    code = main(["up", "--policy", str(pagerduty_policy(tmp_path)), "--port-base", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "valid, but the pager would refuse 1 target problem(s) in the environment of " in err
    assert "targets[0].routing_key.env: target 'pd' reads its routing key" in err
