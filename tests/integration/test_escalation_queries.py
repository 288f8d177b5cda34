"""The query API with two escalator workers: either one answers for every customer.

Each worker holds one of the two partitions; a query that reaches the worker without
the customer's partition is forwarded once to the one with it (faust's assignor knows
each worker's address), so the answer does not depend on which worker was asked.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from escalation.schemas import codec
from escalation.services.common.broker import free_port
from escalation.testing.stack import Service, eventually
from tests.unit.factories import T0, routed

from .test_recovery import produce

pytestmark = pytest.mark.integration


def worker(broker, tmp_path, name: str) -> Service:
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": broker.bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_ESCALATOR_PORT": str(port),
        "ESCALATION_DATA_DIR": str(tmp_path / name),
        "ESCALATION_LOG_FORMAT": "json",
    }
    return Service("escalator", env, port, tmp_path / f"{name}.log")


def customers_on_each_partition() -> list[str]:
    """Two customer ids, one on each of the two partitions."""
    found: dict[int, str] = {}
    partitioner = DefaultPartitioner()
    n = 0
    while len(found) < 2:
        customer = f"C-Q{n}"
        found.setdefault(partitioner(customer.encode(), [0, 1], [0, 1]), customer)
        n += 1
    return list(found.values())


def answer(service: Service, customer: str) -> dict | None:
    url = f"http://127.0.0.1:{service.port}/v1/escalations"
    reply = httpx.get(url, params={"customer_id": customer}, timeout=10)
    if reply.status_code == 503:
        return None  # a rebalance under way: ask again
    assert reply.status_code == 200, reply.text
    return reply.json()


def held(service: Service) -> list[int]:
    """The partitions the worker last said it holds (its log's ``timers_rebuilt``)."""
    lines = [x for x in service.log_path.read_text().splitlines() if "timers_rebuilt" in x]
    return json.loads(lines[-1][lines[-1].index("{") :])["partitions"] if lines else []


def test_either_worker_answers_for_a_customer_the_other_holds(broker, tmp_path):
    first = worker(broker, tmp_path, "a").start()
    second = worker(broker, tmp_path, "b")
    try:
        second.start()
        customers = customers_on_each_partition()
        contacts = [
            routed(f"q-{c}", T0, urgency="critical", issue_key="t-1", customer={"id": c})
            for c in customers
        ]
        records = [(c.customer.id.encode(), codec.encode(c), c.event_id) for c in contacts]
        asyncio.run(produce(broker.bootstrap, records))
        for customer in customers:
            for service in (first, second):
                # Each worker holds one partition, so one of the two answers is forwarded.
                eventually(
                    lambda: sorted(held(first) + held(second)) == [0, 1] and held(first),
                    "the two partitions to be spread over the two workers",
                    90,
                )
                listed = eventually(
                    lambda s=service, c=customer: (a := answer(s, c)) and a["escalations"] and a,
                    f"escalator on {service.port} to answer for {customer}",
                    90,
                )
                [escalation] = listed["escalations"]
                assert escalation["customer_id"] == customer
                assert escalation["status"] == "open" and escalation["level"] == 1
                one = httpx.get(
                    f"http://127.0.0.1:{service.port}/v1/escalations/{escalation['escalation_id']}",
                    timeout=10,
                )
                assert one.status_code == 200, one.text
                assert [e["type"] for e in one.json()["timeline"]] == ["opened", "paged"]
    finally:
        second.stop()
        first.stop()
