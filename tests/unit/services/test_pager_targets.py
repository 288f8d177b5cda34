"""The pager's targets: built by the policy's one check, rebuilt when the policy changes."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from escalation.policy import parse_policy
from escalation.policy.targets import DELIVERED, check_targets, secret_key
from escalation.services.common.policy_watch import PolicyWatcher
from escalation.services.common.settings import Settings
from escalation.services.pager.app import PagerService
from escalation.services.pager.signing import SignatureError, new_secret
from escalation.services.pager.signing import secret_key as signing_key
from escalation.services.pager.targets.registry import BUILDERS, build_targets
from escalation.services.pager.targets.webhook import WebhookTarget
from escalation.testing.stack import EXAMPLE_POLICY

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TARGETS = "targets:\n"


def with_targets(text: str, *lines: str) -> str:
    """The example policy with more targets after its own."""
    head, tail = text.split(TARGETS)
    return head + TARGETS + "".join(f"  - {line}\n" for line in lines) + tail


NEW_HOOK = "{id: new-hook, type: webhook, url: 'http://127.0.0.1:9/h', secret: {env: NEW_SECRET}}"


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("ESCALATION_PAGE_SINK_SECRET", SECRET)
    monkeypatch.setenv("NEW_SECRET", SECRET)
    path = tmp_path / "policy.yaml"
    path.write_text(EXAMPLE_POLICY.read_text())
    return path


@pytest.fixture
def pager(policy_file: Path) -> PagerService:
    return PagerService(Settings(policy=policy_file))


def built(logs: list[dict]) -> list[str]:
    return [e["policy"] for e in logs if e["event"] == "pager.targets_built"]


def test_a_target_added_to_the_file_is_built_once_after_the_reload(pager, policy_file):
    running, problems = pager.targets.get()
    assert sorted(running) == ["ops-webhook"] and problems == []

    policy_file.write_text(with_targets(policy_file.read_text(), NEW_HOOK))
    with capture_logs() as logs:
        assert pager.holder.reload("test") is True
        first = pager.targets.get()
        for _ in range(3):
            assert pager.targets.get() is first
        assert pager.readiness() == ["broker not reachable yet"]  # no target problem
    assert built(logs) == [pager.holder.current.version]
    targets, problems = first
    assert sorted(targets) == ["new-hook", "ops-webhook"] and problems == []
    assert isinstance(targets["new-hook"], WebhookTarget)
    assert targets["new-hook"].url == "http://127.0.0.1:9/h"


def test_a_failed_reload_keeps_the_running_targets(pager, policy_file):
    running = pager.targets.get()
    policy_file.write_text(
        policy_file.read_text().replace("targets: [ops-webhook]", "targets: [x]")
    )
    with capture_logs() as logs:
        assert pager.holder.reload("test") is False
        assert pager.targets.get() is running
    assert built(logs) == []


def test_readiness_reports_the_current_targets_problems(pager, policy_file, monkeypatch):
    good = policy_file.read_text()
    policy_file.write_text(
        with_targets(good, "{id: pd, type: pagerduty, routing_key: {env: ESCALATION_TARGET_K}}")
    )
    assert pager.holder.reload("test") is True
    assert pager.readiness()[1:] == [
        "targets[0].routing_key.env: target 'pd' reads its routing key from "
        "ESCALATION_TARGET_K, which is not set or empty"
    ]
    targets, _ = pager.targets.get()
    assert sorted(targets) == ["ops-webhook"], "the usable target is still delivered to"

    policy_file.write_text(good)
    assert pager.holder.reload("test") is True
    assert pager.readiness() == ["broker not reachable yet"]


def test_the_environment_is_read_when_the_targets_are_rebuilt(pager, policy_file, monkeypatch):
    monkeypatch.delenv("NEW_SECRET")
    policy_file.write_text(with_targets(policy_file.read_text(), NEW_HOOK))
    assert pager.holder.reload("test") is True
    targets, problems = pager.targets.get()
    assert "new-hook" not in targets
    assert problems == [
        "targets[0].secret.env: target 'new-hook' reads its secret from NEW_SECRET, which is "
        "not set"
    ]


async def test_the_watcher_service_reloads_until_stopped(policy_file):
    pager = PagerService(Settings(policy=policy_file))
    watcher = PolicyWatcher(pager.holder, interval=0.05)
    await watcher.start()
    try:
        policy_file.write_text(with_targets(policy_file.read_text(), NEW_HOOK))
        for _ in range(200):
            if "new-hook" in pager.targets.get()[0]:
                break
            await asyncio.sleep(0.01)
        assert sorted(pager.targets.get()[0]) == ["new-hook", "ops-webhook"]
    finally:
        await watcher.stop()
    loop = asyncio.get_running_loop()
    assert loop.remove_signal_handler(signal.SIGHUP) is False, "SIGHUP outlived the watcher"
    version = pager.holder.current.version
    policy_file.write_text(EXAMPLE_POLICY.read_text())
    await asyncio.sleep(0.2)
    assert pager.holder.current.version == version, "a stopped watcher reloads nothing"


def test_the_pager_builds_exactly_the_targets_the_check_accepts():
    policy = parse_policy(
        with_targets(
            EXAMPLE_POLICY.read_text(),
            "{id: ops, type: webhook, url: 'https://ops.example.com', secret: {env: Q_SECRET}}",
            "{id: pd, type: pagerduty, routing_key: {env: ESCALATION_TARGET_K}}",
        )
    ).policy
    env = {"Q_SECRET": SECRET, "ESCALATION_PAGE_SINK_SECRET": SECRET}
    usable, problems = check_targets(policy, env)
    targets, refused = build_targets(policy, env)
    assert refused == problems and len(problems) == 1
    assert sorted(targets) == sorted(t.id for t in usable) == ["ops", "ops-webhook"]


def test_the_pager_has_a_builder_for_every_type_the_check_calls_delivered():
    assert set(BUILDERS) == set(DELIVERED)


def test_signing_and_the_check_agree_on_what_a_secret_is():
    fresh = new_secret()
    assert signing_key(fresh) == secret_key(fresh)
    for bad in ("hunter2", "whsec_", "whsec_***"):
        with pytest.raises(ValueError) as checked:
            secret_key(bad)
        with pytest.raises(SignatureError) as signed:
            signing_key(bad)
        assert str(signed.value) == str(checked.value)
