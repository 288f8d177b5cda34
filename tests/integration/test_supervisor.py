"""`escalation up` as a process manager: a killed child is restarted, shown, and works."""

from __future__ import annotations

import os
import signal
import uuid

import httpx
import pytest

from escalation.schemas import codec
from escalation.testing.stack import Stack, eventually, listening, start_stack, stop_stack
from tests.unit.factories import contact_data

pytestmark = pytest.mark.integration


def child_pid(stack: Stack, service: str) -> int:
    """The pid of ``service`` as the supervisor last reported it ready."""
    lines = [line for line in stack.output if line.strip().startswith(f"ready  {service} ")]
    assert lines, f"the supervisor never reported {service} ready"
    return int(lines[-1].rsplit("pid ", 1)[1].rstrip(")"))


def printed(stack: Stack, *fragments: str) -> str | None:
    return next((line for line in stack.output if all(f in line for f in fragments)), None)


@pytest.fixture
def own_stack():
    running = start_stack({})
    yield running
    assert stop_stack(running) == 0, "\n".join(running.output[-30:])
    assert [p for p in running.ports if listening(p)] == []


def test_a_child_killed_with_sigkill_is_restarted_and_the_stack_still_routes(own_stack):
    stack = own_stack
    killed = {}
    for service in ("router", "escalator"):
        pid = child_pid(stack, service)
        os.kill(pid, signal.SIGKILL)
        killed[service] = pid

    for service, pid in killed.items():
        line = eventually(
            lambda s=service: printed(stack, f"{s} exited with killed by SIGKILL", "restart 1"),
            f"the supervisor to report {service}'s death",
        )
        assert "restart 1 in 0.5s" in line
        eventually(
            lambda s=service: printed(stack, "ready", s, "(after restart 1,"),
            f"{service} to be ready again",
            limit=120,
        )
        assert child_pid(stack, service) != pid
        assert httpx.get(f"{stack.web(service)}/readyz", timeout=5).status_code == 200

    customer = f"AFTER-{uuid.uuid4().hex[:8]}"
    event = contact_data(
        event_id=f"after-{uuid.uuid4().hex[:8]}", customer={"id": customer}, urgency="critical"
    )
    reply = httpx.post(
        f"{stack.intake}/v1/contacts",
        content=codec.dumps(event),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 202, reply.text
    # Routed by the restarted router (the page names its owner), paged by the escalator.
    pages = eventually(lambda: stack.pages(customer=customer), "the page after the restarts")
    assert len(pages) == 1
    assert pages[0]["page"]["owner"]
    assert pages[0]["page"]["contacts"] == [event["event_id"]]
    assert not printed(stack, "keeps failing")


def test_a_dead_broker_stops_the_stack_and_says_why():
    stack = start_stack({})
    try:
        broker = next(line for line in stack.output if line.startswith("broker "))
        os.kill(int(broker.rsplit("pid ", 1)[1].rstrip(")")), signal.SIGKILL)
        assert stack.process.wait(90) == 1
        said = printed(stack, "broker exited with killed by SIGKILL")
        assert said is not None and "in memory" in said and "stopping the stack" in said
        assert printed(stack, "stopped; no process left behind")
        assert [p for p in stack.ports if listening(p)] == []
    finally:
        stop_stack(stack)
