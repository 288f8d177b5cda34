"""The pager follows the policy file: a target added to it is paged without a restart."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from escalation.policy import load_policy
from escalation.schemas import PageRequest, codec
from escalation.services.common.broker import free_port
from escalation.services.common.topics import PAGES, dlq_of
from escalation.services.pager.signing import new_secret, verify
from escalation.testing.stack import EXAMPLE_POLICY, Service, eventually

pytestmark = pytest.mark.integration

NEW_TARGET = "escalation-desk"


class Receiver:
    """A local webhook receiver that records every delivery, repeats included."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, dict[str, str], bytes]] = []
        received = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def page(target: str) -> PageRequest:
    escalation_id = f"e1.C-7.{uuid.uuid4().hex[:8]}.1"
    return PageRequest(
        page_id=f"msg_{uuid.uuid4().hex[:24]}",
        escalation_id=escalation_id,
        dedup_key=escalation_id,
        level=1,
        reason="urgency.critical",
        customer_id="C-7",
        customer_tier="vip",
        category="hvac.repair",
        owner="elif",
        team="vip-desk",
        contacts=["crm-7"],
        targets=[target],
        created_at=datetime.now(UTC),
    )


async def send(bootstrap: str, request: PageRequest) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        key = request.customer_id.encode()
        await producer.send_and_wait(PAGES, codec.encode(request), key=key)
    finally:
        await producer.stop()


async def dead_letter_of(bootstrap: str, page_id: str, limit: float = 60.0):
    """The record of ``page_id`` on pages.dlq.v1, once it arrives."""
    consumer = AIOKafkaConsumer(
        dlq_of(PAGES), bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + limit
        while asyncio.get_running_loop().time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    if codec.decode_page(message.value).page_id == page_id:
                        return message
        raise AssertionError(f"page {page_id} was not dead-lettered within {limit:.0f}s")
    finally:
        await consumer.stop()


def with_new_target(url: str) -> str:
    text = EXAMPLE_POLICY.read_text()
    added = f"  - {{id: {NEW_TARGET}, type: webhook, url: '{url}', secret: {{env: DESK_SECRET}}}}\n"
    assert text.count("targets:\n") == 1
    return text.replace("targets:\n", "targets:\n" + added)


def test_a_target_added_to_the_policy_file_is_paged_without_a_restart(broker, tmp_path: Path):
    desk_secret = new_secret()
    policy = tmp_path / "policy.yaml"
    policy.write_text(EXAMPLE_POLICY.read_text())
    with Receiver() as receiver:
        port = free_port()
        env = {
            "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
            "ESCALATION_KAFKA_PARTITIONS": "2",
            "ESCALATION_PAGER_PORT": str(port),
            "ESCALATION_POLICY": str(policy),
            "ESCALATION_DATA_DIR": str(tmp_path / "data"),
            "ESCALATION_LOG_FORMAT": "json",
            "ESCALATION_TARGET_SINK_URL": f"{receiver.url}/ops",
            "ESCALATION_PAGE_SINK_SECRET": new_secret(),
            "DESK_SECRET": desk_secret,
        }
        pager = Service("pager", env, port, tmp_path / "pager.log").start()
        try:
            assert pager.process is not None
            pid = pager.process.pid

            # Before the reload: the pager knows no such target.
            early = page(NEW_TARGET)
            asyncio.run(send(broker.bootstrap, early))
            dead = asyncio.run(dead_letter_of(broker.bootstrap, early.page_id))
            error = dict(dead.headers)["error"].decode()
            running = load_policy(policy).version
            assert f"{NEW_TARGET}: unknown or unusable target in policy {running}" in error
            assert receiver.deliveries == []

            policy.write_text(with_new_target(f"{receiver.url}/desk"))
            eventually(
                lambda: pager.metric("escalation_policy_reloads_total", result="ok") >= 1,
                "the pager to reload the policy",
            )
            late = page(NEW_TARGET)
            asyncio.run(send(broker.bootstrap, late))
            eventually(lambda: receiver.deliveries, "the page at the new target")
            eventually(
                lambda: pager.metric("escalation_pages_delivered_total", target=NEW_TARGET),
                "the delivery counted",
            )

            [(path, headers, body)] = receiver.deliveries
            assert path == "/desk"
            assert verify(desk_secret, headers, body, int(time.time())) == late.page_id
            assert json.loads(body)["escalation_id"] == late.escalation_id
            assert pager.process.poll() is None and pager.process.pid == pid, "no restart"
            # The early page stays dead-lettered: the reload does not replay it.
            assert pager.metric("escalation_pages_delivered_total") == 1
        finally:
            pager.stop()
            log = (tmp_path / "pager.log").read_text()
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    rebuilt = [e for e in events if e.get("event") == "pager.targets_built"]
    assert [sorted(e["targets"]) for e in rebuilt] == [
        ["ops-webhook"],
        [NEW_TARGET, "ops-webhook"],
    ], "built at start, then once for the new policy version"
