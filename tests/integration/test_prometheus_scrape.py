"""A real Prometheus scrapes the running stack: every metric the dashboards and the alert
rules query is exported, and the ones this traffic exercises hold samples.

The stack runs the seconds-scale ladder (``ladder_policy.yaml``): one escalation stays
open and climbs a level through a timer, another is acknowledged, resolved and rated,
and one record the router cannot decode goes to the DLQ. Prometheus (Debian's package;
``make promtool`` installs it as root) scrapes the five services on loopback with the
alert rules loaded; without it this test fails under CI and is skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from escalation.observability.queries import RULES, queried_names
from escalation.services.common.broker import free_port
from escalation.testing.stack import eventually, stop_stack
from tests.unit.factories import contact_data

from .timer_stack import CRM, TimerStack, start_timer_stack, unique

SERVICES = ("intake", "router", "escalator", "pager", "surge")
NOT_DRIVEN = {
    "escalation_pages_failed_total": "needs a receiver that refuses pages",
    "escalation_page_fallbacks_total": "needs a receiver that refuses pages",
    "escalation_policy_reloads_total": "counts reloads after the first load; no edit here",
    "escalation_surge_events_total": "needs a surge (integration/test_surges.py makes one)",
}
"""Queried names this traffic cannot give samples to; they must still be declared."""
PROMETHEUS = shutil.which("prometheus")


@pytest.fixture(scope="module")
def timers(tmp_path_factory) -> Iterator[TimerStack]:
    running, receiver = start_timer_stack(tmp_path_factory.mktemp("scrape"))
    try:
        yield running
    finally:
        stop_stack(running.stack)
        receiver.terminate()
        receiver.wait()


def start_prometheus(timers: TimerStack, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    if PROMETHEUS is None:
        if os.environ.get("CI") == "true":
            pytest.fail("prometheus is missing: run `make promtool` (Debian's prometheus)")
        pytest.skip("prometheus is missing: `make promtool` installs it (as root)")
    jobs = "\n".join(
        f"  - job_name: {service}\n"
        f"    static_configs: [{{targets: ['{timers.stack.web(service).split('//')[1]}']}}]"
        if service != "intake"
        else f"  - job_name: intake\n"
        f"    static_configs: [{{targets: ['{timers.stack.intake.split('//')[1]}']}}]"
        for service in SERVICES
    )
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES}']\n"
        f"scrape_configs:\n{jobs}\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=open(tmp / "prometheus.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


def api(prometheus: str, path: str, **params: str):
    try:
        reply = httpx.get(f"{prometheus}/api/v1/{path}", params=params, timeout=5)
    except httpx.HTTPError:
        return None
    return reply.json()["data"] if reply.is_success else None


async def poison(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait("contacts.v1", b"{not json", key=b"C-poison")
    finally:
        await producer.stop()


def drive(timers: TimerStack) -> None:
    """Pages, a timer step, an ack, a resolve with its cause, a rating, a dead letter."""
    climbing = timers.open(unique("C"))
    eventually(lambda: len(timers.deliveries(climbing)) >= 2, "the level 2 page (a tick)", 60)
    settled_customer = unique("C")
    settled = timers.open(settled_customer)
    timers.command(settled, "ack", by="ann")
    timers.command(settled, "resolve", by="ann", cause="defect")
    eventually(lambda: timers.view(settled)["status"] == "resolved", "the resolution", 60)
    survey = contact_data(
        event_id=unique("s"),
        customer={"id": settled_customer},
        occurred_at=datetime.now(UTC).isoformat(),
        category="hvac",
        channel="survey",
        csat=5,
    )
    reply = httpx.post(f"{timers.stack.intake}/v1/contacts", json=survey, headers=CRM)
    assert reply.status_code == 202, reply.text
    asyncio.run(poison(timers.stack.bootstrap))


def test_prometheus_scrapes_every_metric_the_dashboards_and_rules_query(timers, tmp_path):
    prometheus, url = start_prometheus(timers, tmp_path)
    try:
        drive(timers)
        queried = set(queried_names())

        def targets_up():
            data = api(url, "targets")
            active = data["activeTargets"] if data else []
            return len(active) == len(SERVICES) and all(t["health"] == "up" for t in active)

        eventually(targets_up, "Prometheus to scrape every service", 90)

        def missing() -> set[str]:
            names = set(api(url, "label/__name__/values") or ())
            return queried - set(NOT_DRIVEN) - names

        with contextlib.suppress(AssertionError):  # the assert below names what is missing
            eventually(lambda: not missing(), "samples of every queried metric", 90)
        assert missing() == set()

        declared = set()
        for service in SERVICES:
            base = timers.stack.intake if service == "intake" else timers.stack.web(service)
            for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
                if line.startswith("# TYPE "):
                    declared.add(line.split()[2])
        for name in NOT_DRIVEN:
            assert name in declared, name

        groups = api(url, "rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert len(rules) == 7 and all(rule["health"] == "ok" for rule in rules), rules
        open_now = api(url, "query", query="sum(escalation_escalations_open)")["result"]
        assert float(open_now[0]["value"][1]) >= 1
        dead = api(url, "query", query='sum(escalation_dead_letters_total{job="router"})')
        assert float(dead["result"][0]["value"][1]) >= 1
    finally:
        prometheus.terminate()
        prometheus.wait(30)
