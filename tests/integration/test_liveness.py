"""Liveness is not readiness: each stream service is live before its broker answers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from escalation.services.common.broker import EmbeddedBroker, ensure_topics, free_port
from escalation.services.common.topics import catalogue
from escalation.services.pager.signing import new_secret
from escalation.testing.stack import EXAMPLE_POLICY, ROOT, eventually

pytestmark = pytest.mark.integration

SERVICES = ("router", "escalator", "pager", "surge")


def get(port: int, path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.HTTPError:
        return None


async def partition_counts(bootstrap: str) -> set[int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        topics = await consumer.topics()
        return {len(consumer.partitions_for_topic(topic) or ()) for topic in topics}
    finally:
        await consumer.stop()


def test_stream_services_answer_healthz_before_the_broker_and_readyz_once_it_is_up(tmp_path):
    broker_port = free_port()
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "ESCALATION_KAFKA_BOOTSTRAP": f"127.0.0.1:{broker_port}",  # nothing listens yet
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_POLICY": str(EXAMPLE_POLICY),
        "ESCALATION_DATA_DIR": str(tmp_path / "data"),
        "ESCALATION_PAGE_SINK_SECRET": new_secret(),
        "ESCALATION_LOG_FORMAT": "json",
        **{f"ESCALATION_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "escalation", name],
            cwd=ROOT,
            env=env,
            stdout=open(tmp_path / f"{name}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        for name in SERVICES
    }
    try:
        for name, port in ports.items():
            live = eventually(lambda port=port: get(port, "/healthz"), f"{name} /healthz")
            assert live.status_code == 200
            ready = get(port, "/readyz")
            assert ready is not None and ready.status_code == 503
            [problem] = ready.json()["problems"]
            assert problem.startswith("broker not reachable yet")
        # Still alive and waiting, not exited, after several failed attempts.
        assert all(p.poll() is None for p in processes.values())

        with EmbeddedBroker(port=broker_port, log_path=tmp_path / "broker.log") as broker:
            # The broker answers, but without topics the services wait and say so, rather
            # than let the broker create them on first use with its own partition count.
            for name, port in ports.items():
                eventually(
                    lambda port=port: "topics missing" in get(port, "/readyz").text,
                    f"{name} to report the missing topics",
                )
            asyncio.run(ensure_topics({"bootstrap_servers": broker.bootstrap}, catalogue(2)))
            for name, port in ports.items():
                eventually(
                    lambda port=port: (r := get(port, "/readyz")) and r.status_code == 200,
                    f"{name} to be ready once the broker is up",
                    limit=120,
                )
                assert get(port, "/healthz").status_code == 200
            assert asyncio.run(partition_counts(broker.bootstrap)) == {2}
            for process in processes.values():
                process.terminate()
            codes = {name: p.wait(60) for name, p in processes.items()}
        assert codes == {name: 0 for name in SERVICES}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
