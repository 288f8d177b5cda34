"""The page sink records every delivery: repeats, bad signatures and contract breaches."""

import asyncio
import io
import time

import orjson
import pytest
from tests.unit.services.test_webhook_target import LINKS, SECRET, page_request

from escalation.services.common.http import Request
from escalation.services.common.problems import Problem
from escalation.services.pager.signing import new_secret
from escalation.services.pager.sink import PageSink
from escalation.services.pager.targets.webhook import WebhookTarget


def delivery(action: str, secret: str = SECRET) -> Request:
    target = WebhookTarget("ops-webhook", "http://receiver.test/pages", secret)
    sent = target.build(page_request(action), LINKS, int(time.time()))
    return Request("POST", "/pages", dict(sent.headers), sent.content)


def listed(handler):
    return orjson.loads(asyncio.run(handler(Request("GET", "/", {}, b""))).body)


def test_every_delivery_is_recorded_and_each_page_listed_once():
    out = io.StringIO()
    sink = PageSink(SECRET, out=out)
    paged, acked = delivery("trigger"), delivery("acknowledge")
    for request in (paged, acked, paged, paged):
        assert asyncio.run(sink.receive(request)).status == 204
    with pytest.raises(Problem):
        asyncio.run(sink.receive(delivery("resolve", secret=new_secret())))

    paged_id, acked_id = paged.headers["webhook-id"], acked.headers["webhook-id"]
    assert [(p["webhook_id"], p["deliveries"]) for p in listed(sink.list_pages)] == [
        (paged_id, 3),
        (acked_id, 1),
    ]
    received = listed(sink.list_deliveries)
    assert received["totals"] == {
        "distinct_pages": 2,
        "deliveries": 4,
        "duplicate_deliveries": 2,
        "rejected_deliveries": 1,
    }
    every = received["deliveries"]
    assert [(d["webhook_id"], d["verified"], d["accepted"], d["duplicate"]) for d in every] == [
        (paged_id, True, True, False),
        (acked_id, True, True, False),
        (paged_id, True, True, True),
        (paged_id, True, True, True),
        (delivery("resolve").headers["webhook-id"], False, False, False),
    ]
    assert every[4]["page"] is None and "signature" in every[4]["error"]
    assert all(d["received_at"] for d in every)
    printed = out.getvalue()
    assert printed.count("PAGE [escalation.paged]") == 1
    assert printed.count(f"REPEAT {paged_id}") == 2
