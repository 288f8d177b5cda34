"""The embedded stack on a seconds-scale ladder, every page recorded by a receiver process.

The receiver (``receivers.py``) records every delivery, repeats included, with the time
it arrived, so the tests count and time what a receiver saw, not what a service says.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from escalation.services.common.broker import free_port
from escalation.testing.stack import Stack, eventually, start_stack
from tests.unit.factories import contact_data

from .conftest import LINK_KEY, TOKENS, token_setting
from .pager_stack import start

POLICY = Path(__file__).with_name("ladder_policy.yaml")
AFTER = {1: 0.0, 2: 4.0, 3: 8.0, 4: 60.0}
"""Seconds from the escalation's opening to each level, as the policy's ladder says."""
CRM = {"authorization": f"Bearer {TOKENS['crm']}"}
OPS = {"authorization": f"Bearer {TOKENS['ops']}"}


@dataclass(frozen=True)
class Delivery:
    at: float
    page_id: str
    type: str
    level: int
    reason: str
    escalation_id: str


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class TimerStack:
    stack: Stack
    receiver: str

    def deliveries(self, escalation_id: str, type: str = "escalation.paged") -> list[Delivery]:
        """Every delivery of the escalation's pages of ``type``, in arrival order."""
        found = []
        for item in httpx.get(f"{self.receiver}/deliveries", timeout=5).json():
            page = json.loads(item["body"])
            if page["escalation_id"] == escalation_id and page["type"] == type:
                found.append(
                    Delivery(
                        item["at"],
                        page["page_id"],
                        page["type"],
                        page["level"],
                        page["reason"],
                        page["escalation_id"],
                    )
                )
        return sorted(found, key=lambda d: d.at)

    def open(self, customer: str) -> str:
        """Three contacts on one issue: the escalation they open, once its page arrived."""
        now = datetime.now(UTC).isoformat()
        for _ in range(3):
            event = contact_data(
                event_id=unique("c"), customer={"id": customer}, occurred_at=now, category="hvac"
            )
            reply = httpx.post(f"{self.stack.intake}/v1/contacts", json=event, headers=CRM)
            assert reply.status_code == 202, reply.text
        listed = eventually(lambda: self.escalations(customer), "the escalation to open")
        escalation_id = listed[0]["escalation_id"]
        eventually(lambda: self.deliveries(escalation_id), "the level 1 page", 60)
        return escalation_id

    def escalations(self, customer: str) -> list[dict[str, Any]]:
        """The customer's escalations; none while the escalator answers 503 (rebalancing)."""
        reply = httpx.get(
            f"{self.stack.intake}/v1/escalations", params={"customer_id": customer}, headers=OPS
        )
        assert reply.status_code in (200, 503), reply.text
        return reply.json()["escalations"] if reply.status_code == 200 else []

    def query(self, escalation_id: str) -> httpx.Response:
        return httpx.get(f"{self.stack.intake}/v1/escalations/{escalation_id}", headers=OPS)

    def view(self, escalation_id: str) -> dict[str, Any]:
        reply = self.query(escalation_id)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def command(self, escalation_id: str, action: str, **body: Any) -> None:
        url = f"{self.stack.intake}/v1/escalations/{escalation_id}/{action}"
        reply = httpx.post(url, json=body, headers=OPS)
        assert reply.status_code == 202, reply.text

    def escalator_pid(self) -> int:
        lines = [line for line in self.stack.output if re.search(r"ready\s+escalator", line)]
        return int(re.search(r"pid (\d+)", lines[-1]).group(1))

    def log_dir(self) -> Path:
        line = next(line for line in self.stack.output if "logs: " in line)
        return Path(line.rsplit("logs: ", 1)[1].strip())


def opened_at(view: dict[str, Any]) -> float:
    return datetime.fromisoformat(view["opened_at"]).timestamp()


def start_timer_stack(tmp: Path) -> tuple[TimerStack, Any]:
    port = free_port()
    receiver = start(["http", str(port)], tmp / "receiver.log")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/deliveries", timeout=1).is_success
        except httpx.HTTPError:
            return False

    eventually(up, "the receiver to listen", 30)
    env = {
        "ESCALATION_INTAKE_TOKENS": token_setting(),
        "ESCALATION_LINK_KEYS": LINK_KEY,
        "ESCALATION_TARGET_RECEIVER": url,
    }
    try:
        stack = start_stack(env, policy=POLICY)
    except BaseException:
        receiver.terminate()
        receiver.wait()
        raise
    return TimerStack(stack, url), receiver
