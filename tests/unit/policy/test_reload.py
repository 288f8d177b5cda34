import asyncio
import os
import signal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from escalation.policy import PolicyError, load_policy
from escalation.policy.reload import Derived, PolicyHolder

EXAMPLE = Path(__file__).parents[3] / "config" / "policy.example.yaml"
RELOADS = "escalation_policy_reloads_total"
INFO = "escalation_policy_info"
SUCCESS = "escalation_policy_last_reload_success"
TIMESTAMP = "escalation_policy_last_reload_timestamp_seconds"


def changed(text: str, threshold: int = 15) -> str:
    """A valid change with a different size (mtime alone can be coarse on some filesystems)."""
    assert "repeat_threshold: 3 " in text
    return text.replace("repeat_threshold: 3 ", f"repeat_threshold: {threshold} ", 1)


def broken(text: str) -> str:
    """Two independent errors: an unknown key and an invalid duration."""
    assert "repeat_window: 72h" in text
    return text.replace("repeat_window: 72h", "repeat_window: soon", 1) + "bogus: 1\n"


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(EXAMPLE.read_text())
    return path


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def reloads(registry: CollectorRegistry, result: str) -> float:
    return registry.get_sample_value(RELOADS, {"result": result}) or 0.0


def info(registry: CollectorRegistry, holder: PolicyHolder, version: str) -> float | None:
    return registry.get_sample_value(INFO, {"version": version, "source": str(holder.path)})


async def eventually(condition) -> None:
    for _ in range(300):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 3 s")


def test_construction_loads_and_sets_metrics(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    assert holder.current.version == load_policy(policy_file).version
    assert info(registry, holder, holder.current.version) == 1
    assert registry.get_sample_value(SUCCESS) == 1
    assert registry.get_sample_value(TIMESTAMP) > 0
    assert reloads(registry, "ok") == 0


def test_a_broken_policy_at_startup_raises(policy_file, registry):
    policy_file.write_text(broken(policy_file.read_text()))
    with pytest.raises(PolicyError):
        PolicyHolder(policy_file, registry)


def test_a_valid_change_swaps_the_policy(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    old = holder.current
    policy_file.write_text(changed(policy_file.read_text()))
    with capture_logs() as logs:
        assert holder.reload("test") is True
    assert holder.current.version != old.version
    assert holder.current.policy.escalation.repeat_threshold == 15
    assert reloads(registry, "ok") == 1
    assert info(registry, holder, holder.current.version) == 1
    assert info(registry, holder, old.version) is None, "the old version's label set stays"
    assert registry.get_sample_value(SUCCESS) == 1
    [event] = [e for e in logs if e["event"] == "policy.reloaded"]
    assert (event["old"], event["new"], event["reason"]) == (
        old.version,
        holder.current.version,
        "test",
    )


def test_an_invalid_change_keeps_the_running_policy(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    running = holder.current
    policy_file.write_text(broken(policy_file.read_text()))
    with capture_logs() as logs:
        assert holder.reload("test") is False
    assert holder.current is running
    assert reloads(registry, "failed") == 1
    assert reloads(registry, "ok") == 0
    assert registry.get_sample_value(SUCCESS) == 0
    assert info(registry, holder, running.version) == 1
    [event] = [e for e in logs if e["event"] == "policy.reload_failed"]
    assert event["log_level"] == "error"
    assert len(event["errors"]) >= 2
    assert any("bogus" in e for e in event["errors"])
    assert any("soon" in e for e in event["errors"])

    # Fixing the file recovers; reverting it to the running version also clears the failure.
    policy_file.write_text(EXAMPLE.read_text())
    assert holder.reload("test") is False
    assert reloads(registry, "unchanged") == 1
    assert registry.get_sample_value(SUCCESS) == 1


def test_unchanged_content_counts_unchanged(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    running = holder.current
    policy_file.write_text(policy_file.read_text())  # touched, same bytes
    assert holder.reload("test") is False
    assert holder.current is running
    assert reloads(registry, "unchanged") == 1
    assert reloads(registry, "ok") == reloads(registry, "failed") == 0


def test_an_unexpected_loader_error_is_a_failed_reload(policy_file, registry):
    calls = []

    def loader(path):
        calls.append(path)
        if len(calls) > 1:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return load_policy(path)

    holder = PolicyHolder(policy_file, registry, loader=loader)
    running = holder.current
    assert holder.reload("test") is False
    assert holder.current is running
    assert reloads(registry, "failed") == 1
    assert registry.get_sample_value(SUCCESS) == 0


async def test_watch_picks_up_a_file_change(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    old = holder.current.version
    stop = asyncio.Event()
    task = asyncio.create_task(holder.watch(stop, interval=0.05))
    await asyncio.sleep(0.1)
    assert holder.current.version == old

    policy_file.write_text(changed(policy_file.read_text()))
    await eventually(lambda: holder.current.version != old)
    assert reloads(registry, "ok") == 1

    policy_file.write_text(broken(policy_file.read_text()))
    await eventually(lambda: reloads(registry, "failed") == 1)
    assert not task.done(), "a failed reload must not end the watch"

    stop.set()
    await asyncio.wait_for(task, 1)


async def test_watch_follows_a_configmap_symlink_swap(tmp_path, registry):
    # Kubernetes: policy.yaml -> ..data/policy.yaml, ..data -> ..v1; an update swaps ..data.
    text = EXAMPLE.read_text()
    for version, content in (("..v1", text), ("..v2", changed(text))):
        (tmp_path / version).mkdir()
        (tmp_path / version / "policy.yaml").write_text(content)
    (tmp_path / "..data").symlink_to("..v1")
    (tmp_path / "policy.yaml").symlink_to("..data/policy.yaml")
    holder = PolicyHolder(tmp_path / "policy.yaml", registry)
    old = holder.current.version

    stop = asyncio.Event()
    task = asyncio.create_task(holder.watch(stop, interval=0.05))
    await asyncio.sleep(0.1)
    (tmp_path / "..data_tmp").symlink_to("..v2")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    await eventually(lambda: holder.current.version != old)
    assert holder.current.policy.escalation.repeat_threshold == 15
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_sighup_triggers_a_reload(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    old = holder.current.version
    stop = asyncio.Event()
    task = asyncio.create_task(holder.watch(stop, interval=3600))  # polling cannot fire
    await asyncio.sleep(0.05)

    policy_file.write_text(changed(policy_file.read_text()))
    with capture_logs() as logs:
        os.kill(os.getpid(), signal.SIGHUP)
        await eventually(lambda: holder.current.version != old)
    assert [e["reason"] for e in logs if e["event"] == "policy.reloaded"] == ["SIGHUP"]
    assert reloads(registry, "ok") == 1

    stop.set()
    await asyncio.wait_for(task, 1)
    loop = asyncio.get_running_loop()
    assert loop.remove_signal_handler(signal.SIGHUP) is False, "the handler outlived watch"


def counting_build(builds: list[str]):
    def build(loaded) -> tuple[str, int]:
        builds.append(loaded.version)
        return loaded.version, len(builds)

    return build


def test_derived_rebuilds_once_per_new_version(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    builds: list[str] = []
    derived = Derived(holder, counting_build(builds))
    first = derived.get()
    assert first == (holder.current.version, 1) and derived.get() is first

    policy_file.write_text(changed(policy_file.read_text()))
    assert holder.reload("test") is True
    second = derived.get()
    assert second == (holder.current.version, 2)
    assert derived.get() is second and derived.get() is second
    assert derived.built_from == holder.current.version
    assert builds == [first[0], second[0]]


def test_derived_keeps_its_value_when_a_reload_fails_or_changes_nothing(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    builds: list[str] = []
    derived = Derived(holder, counting_build(builds))
    running = derived.get()
    text = policy_file.read_text()
    policy_file.write_text(broken(text))
    assert holder.reload("test") is False
    assert derived.get() is running
    policy_file.write_text(text)
    assert holder.reload("test") is False  # unchanged
    assert derived.get() is running
    assert len(builds) == 1


def test_derived_keeps_the_old_value_when_its_build_fails_and_tries_once(policy_file, registry):
    holder = PolicyHolder(policy_file, registry)
    calls = []

    def build(loaded):
        calls.append(loaded.version)
        if len(calls) > 1:
            raise RuntimeError("cannot build")
        return "built from the first policy"

    derived = Derived(holder, build)
    first = holder.current.version
    policy_file.write_text(changed(policy_file.read_text()))
    assert holder.reload("test") is True
    with capture_logs() as logs:
        assert derived.get() == "built from the first policy"
        assert derived.get() == "built from the first policy"
    assert calls == [first, holder.current.version], "one attempt per version"
    assert derived.built_from == first
    assert [e["event"] for e in logs] == ["policy.rebuild_failed"]
