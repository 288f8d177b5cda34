"""Intake on a real broker that stops answering, or is not there yet.

The broker is paused with SIGSTOP (its process keeps the connection open and answers
nothing, as a broker in a long GC pause or behind a dead switch does): intake answers
503 with Retry-After instead of hanging, stays live, and takes writes again once the
broker resumes. No assertion is on a duration: only on statuses and headers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from escalation.schemas import codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.topics import CONTACTS, ROUTED, catalogue
from escalation.testing.stack import ROOT, Service, eventually
from tests.unit.factories import contact_data

pytestmark = pytest.mark.integration

DEADLINE = "2"
JSON = {"content-type": "application/json"}


def intake(bootstrap: str, tmp_path) -> Service:
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_INTAKE_PORT": str(port),
        "ESCALATION_INTAKE_BROKER_DEADLINE_SECONDS": DEADLINE,
        "ESCALATION_LOG_FORMAT": "json",
    }
    return Service("intake", env, port, tmp_path / "intake.log")


def start_live(service: Service) -> Service:
    """Start and wait for liveness only (``Service.start`` waits for readiness)."""
    with open(service.log_path, "ab") as log:
        service.process = subprocess.Popen(
            [sys.executable, "-m", "escalation", service.name],
            cwd=ROOT,
            env={**os.environ, **service.env},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    eventually(lambda: status(service, "GET", "/healthz") == 200, "intake to be live")
    return service


def status(service: Service, method: str, path: str) -> int | None:
    try:
        return httpx.request(
            method, f"http://127.0.0.1:{service.port}{path}", timeout=30
        ).status_code
    except httpx.HTTPError:
        return None


def post(service: Service, event_id: str) -> httpx.Response:
    event = contact_data(
        event_id=event_id,
        occurred_at=datetime.now(UTC).isoformat(),
        customer={"id": f"C-{event_id}"},
    )
    return httpx.post(
        f"http://127.0.0.1:{service.port}/v1/contacts",
        content=codec.dumps(event),
        headers=JSON,
        timeout=30,  # far beyond the deadline: a hang would show as a timeout here
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def event_ids_on(bootstrap: str, wanted: set[str], limit: float = 60.0) -> set[str]:
    """The event-id headers on contacts.v1, read until every wanted one is seen."""
    consumer = AIOKafkaConsumer(
        CONTACTS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: set[str] = set()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not wanted <= seen and loop.time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                seen |= {dict(m.headers)["event-id"].decode() for m in messages}
        return seen
    finally:
        await consumer.stop()


def router(bootstrap: str, tmp_path) -> Service:
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_ROUTER_PORT": str(port),
        "ESCALATION_LOG_FORMAT": "json",
    }
    return Service("router", env, port, tmp_path / "router.log")


async def routed_owners(bootstrap: str, wanted: set[str], limit: float = 60.0) -> dict:
    """event id -> the owners of its records on contacts.routed.v1, until all are seen."""
    consumer = AIOKafkaConsumer(
        ROUTED, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    owners: dict[str, list[str]] = {}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not wanted <= owners.keys() and loop.time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    event = codec.decode_routed(message.value)
                    owners.setdefault(event.event_id, []).append(event.routing.owner)
        return owners
    finally:
        await consumer.stop()


def test_a_paused_broker_is_503_with_retry_after_then_writes_resume(broker, tmp_path):
    service = intake(broker.bootstrap, tmp_path).start()
    routing = router(broker.bootstrap, tmp_path).start()
    acknowledged: set[str] = set()
    try:
        before = unique("before")
        assert post(service, before).status_code == 202
        acknowledged.add(before)

        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            paused = [unique("paused") for _ in range(3)]
            for event_id in paused:
                reply = post(service, event_id)
                assert reply.status_code == 503, reply.text
                assert reply.headers["retry-after"] == DEADLINE
                assert reply.json()["type"].endswith("/broker-unavailable")
            assert status(service, "GET", "/healthz") == 200  # live: not to be restarted
            assert status(service, "GET", "/readyz") == 503  # not ready: take it out of rotation
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)

        def accepted_again() -> bool:
            event_id = unique("after")
            ok = post(service, event_id).status_code == 202
            if ok:
                acknowledged.add(event_id)
            return ok

        eventually(accepted_again, "intake to accept writes after the broker resumed")
        for event_id in paused:  # the senders retry: accepted, or known if it landed late
            reply = post(service, event_id)
            assert reply.status_code == 202, reply.text
            assert event_id in reply.json()["accepted"] + reply.json()["duplicates"]
            acknowledged.add(event_id)
        assert status(service, "GET", "/readyz") == 200
        # Every 202 is on the topic: an answer never claimed a write that was lost.
        landed = asyncio.run(event_ids_on(broker.bootstrap, acknowledged))
        assert acknowledged <= landed
        # ... and routed exactly once in effect: a write that landed late and its retry
        # are one contact (same owner on every copy), counted once by the router.
        owners = asyncio.run(routed_owners(broker.bootstrap, landed))
        assert landed <= owners.keys()
        assert all(len(set(found)) == 1 for found in owners.values()), owners
        eventually(
            lambda: routing.metric("escalation_routed_total") == len(landed),
            f"the router to count {len(landed)} contacts once each",
        )
    finally:
        routing.stop()
        service.stop()


def test_intake_is_live_before_the_broker_exists_and_ready_once_it_does(tmp_path):
    broker = EmbeddedBroker(port=free_port())
    service = start_live(intake(broker.bootstrap, tmp_path))
    try:
        assert status(service, "GET", "/readyz") == 503
        early = post(service, unique("early"))
        assert early.status_code == 503
        assert early.headers["retry-after"] == DEADLINE

        broker.start()
        asyncio.run(ensure_topics({"bootstrap_servers": broker.bootstrap}, catalogue(2)))
        eventually(lambda: status(service, "GET", "/readyz") == 200, "intake to be ready")
        assert post(service, unique("late")).status_code == 202
        assert service.process is not None and service.process.poll() is None
    finally:
        service.stop()
        broker.stop()
