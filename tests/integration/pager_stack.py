"""A broker, receiver processes and a pager process for the delivery tests."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from escalation.schemas import PageRequest, codec, make_escalation_id
from escalation.services.common.broker import free_port
from escalation.services.common.topics import PAGES
from escalation.testing.stack import EXAMPLE_POLICY, ROOT, eventually

PD_KEY = "0123456789abcdef0123456789ABCDEF"


def targets_yaml(smtp_port: int, closed_port: int) -> str:
    hook = "type: webhook, secret: {env: HOOK_SECRET}, url: '${ESCALATION_TARGET_RECEIVER}"
    lines = [
        f"{{id: hook-ok, {hook}/ok'}}",
        f"{{id: hook-flaky, {hook}/flaky'}}",
        f"{{id: hook-429, {hook}/ratelimit'}}",
        f"{{id: hook-slow, {hook}/slow', fallback: hook-spare, deadline: 4s}}",
        f"{{id: hook-dead, type: webhook, secret: {{env: HOOK_SECRET}}, "
        f"url: 'http://127.0.0.1:{closed_port}/x', fallback: hook-spare}}",
        f"{{id: hook-spare, {hook}/spare'}}",
        f"{{id: hook-reject, {hook}/reject'}}",
        f"{{id: hook-kill, {hook}/kill'}}",
        "{id: pd, type: pagerduty, url: '${ESCALATION_TARGET_RECEIVER}/pagerduty', "
        "routing_key: {env: ESCALATION_TARGET_PD_KEY}}",
        "{id: chat, type: slack, url: '${ESCALATION_TARGET_RECEIVER}/slack'}",
        "{id: mail, type: email, to: [oncall@example.com], from: pager@example.com, "
        f"host: 127.0.0.1, port: {smtp_port}, username: pager, password: {{env: SMTP_PASSWORD}}}}",
    ]
    return "".join(f"  - {line}\n" for line in lines)


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.receivers", *args],
            cwd=ROOT,
            stdout=out,
            stderr=out,
            env={**os.environ, **(env or {})},
        )
    return process


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class Receivers:
    http_port: int
    smtp_port: int
    mail_log: Path
    cert: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def deliveries(self, path: str, ident: str | None = None) -> list[dict[str, Any]]:
        """Every request to ``path`` (of page ``ident``: webhook-id or dedup_key), in order."""
        found = httpx.get(f"{self.url}/deliveries", timeout=5).json()
        out = [d for d in found if d["path"] == path]
        if ident is not None:
            out = [d for d in out if ident in (d["headers"].get("webhook-id"), dedup_of(d))]
        return out

    def control(self, **command: Any) -> None:
        httpx.post(f"{self.url}/control", json=command, timeout=5).raise_for_status()

    def mails(self) -> list[dict[str, Any]]:
        if not self.mail_log.exists():
            return []
        return [json.loads(line) for line in self.mail_log.read_text().splitlines()]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def dedup_of(delivery: dict[str, Any]) -> str | None:
    try:
        return json.loads(delivery["body"]).get("dedup_key")
    except ValueError:
        return None


def start_receivers(tmp: Path, secret: str | None = None) -> Receivers:
    """``secret``: the webhook targets' secret, so each delivery records if it verified."""
    cert, key = self_signed(tmp)
    receivers = Receivers(free_port(), free_port(), tmp / "mail.jsonl", cert)
    env = {"RECEIVER_SECRET": secret} if secret else {}
    receivers.processes.append(start(["http", str(receivers.http_port)], tmp / "http.log", env))
    receivers.processes.append(
        start(
            ["smtp", str(receivers.smtp_port), str(cert), str(key), str(receivers.mail_log)],
            tmp / "smtp.log",
        )
    )

    def up() -> bool:
        try:
            return httpx.get(f"{receivers.url}/deliveries", timeout=1).is_success and (
                "listening" in (tmp / "smtp.log").read_text()
            )
        except (httpx.HTTPError, FileNotFoundError):
            return False

    eventually(up, "the receivers to listen", 30)
    return receivers


def policy_text(receivers: Receivers) -> str:
    text = EXAMPLE_POLICY.read_text()
    return text.replace(
        "targets:\n", "targets:\n" + targets_yaml(receivers.smtp_port, free_port()), 1
    )


def page(targets: list[str], action: str = "trigger", customer: str = "C-7") -> PageRequest:
    escalation_id = make_escalation_id(customer, uuid.uuid4().hex[:24], 1)
    return PageRequest(
        page_id=f"msg_{uuid.uuid4().hex[:24]}",
        action=action,
        escalation_id=escalation_id,
        dedup_key=escalation_id,
        level=1,
        reason="urgency.critical",
        customer_id=customer,
        customer_tier="vip",
        category="hvac.repair",
        summary="Board-room projector dead <!channel>",
        owner="elif",
        team="vip-desk",
        contacts=["crm-7"],
        targets=targets,
        created_at=datetime.now(UTC),
        route="vip",
        routing_reasons=["route vip: matched"],
        notified=["elif"],
    )


async def send(bootstrap: str, *requests: PageRequest) -> None:
    """Produce the pages in one batch, in order (one customer: one partition)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=50)
    await producer.start()
    try:
        sent = [
            await producer.send(
                PAGES,
                codec.encode(r),
                key=r.customer_id.encode(),
                headers=[("event-id", r.page_id.encode())],
            )
            for r in requests
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of ``topic`` so far (read until two empty polls)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Any] = []
    try:
        idle = 0
        while idle < 2:
            batch = await consumer.getmany(timeout_ms=700)
            idle = 0 if batch else idle + 1
            for messages in batch.values():
                found += messages
    finally:
        await consumer.stop()
    return found


def outcomes(bootstrap: str, page_id: str) -> list[Any]:
    """The pager's records about ``page_id`` on escalations.v1."""
    records = [
        codec.decode_escalation(m.value) for m in asyncio.run(read_all(bootstrap, "escalations.v1"))
    ]
    return [r for r in records if r.page_id == page_id]


def dead_letters(bootstrap: str, page_id: str) -> list[Any]:
    found = asyncio.run(read_all(bootstrap, "pages.dlq.v1"))
    return [m for m in found if codec.decode_page(m.value).page_id == page_id]
