"""The body a webhook target sends is the contract's ``WebhookPage``; the sink holds it to it."""

import io
import json
import time
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest

from escalation.schemas import PageRequest, WebhookPage, codec, page_id_for
from escalation.schemas.jsonschema import SCHEMA_DIR
from escalation.services.common.http import Request
from escalation.services.common.problems import Problem
from escalation.services.pager.signing import new_secret, sign, verify
from escalation.services.pager.sink import PageSink
from escalation.services.pager.targets.base import Links
from escalation.services.pager.targets.webhook import WebhookTarget

SECRET = new_secret()
LINKS = Links("http://intake.test:8080")
ESCALATION = "e1.Qy0xMDQy.748fe2ba78cbb60d56867b46.1"
SCHEMA = json.loads((SCHEMA_DIR / "webhook-page.v1.schema.json").read_text())
FIELDS = {
    "type",
    "page_id",
    "escalation_id",
    "dedup_key",
    "level",
    "reason",
    "customer",
    "issue_key",
    "category",
    "product",
    "summary",
    "owner",
    "team",
    "contacts",
    "created_at",
    "ack_url",
    "resolve_url",
    "affected",
}


def page_request(action: str = "trigger", **overrides) -> PageRequest:
    values = {
        "page_id": page_id_for(ESCALATION, 1, action),
        "action": action,
        "escalation_id": ESCALATION,
        "dedup_key": ESCALATION,
        "level": 1,
        "reason": "repeat.contacts: 3 contacts within 72h",
        "customer_id": "C-1042",
        "customer_tier": "vip",
        "issue_key": "ticket-88",
        "category": "hvac.repair",
        "product": "AC-3000",
        "owner": "chen",
        "team": "service-engineers",
        "summary": "AC failed again after repair",
        "contacts": ["crm-1", "crm-2", "crm-3"],
        "targets": ["ops-webhook"],
        "created_at": datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
    }
    return PageRequest(**{**values, **overrides})


TARGET = WebhookTarget("ops-webhook", "http://receiver.test/pages", SECRET)


def sent(page: PageRequest, now: int = 1_800_000_000):
    return TARGET.build(page, LINKS, now)


@pytest.mark.parametrize(
    ("action", "event_type"),
    [
        ("trigger", "escalation.paged"),
        ("acknowledge", "escalation.acked"),
        ("resolve", "escalation.resolved"),
    ],
)
@pytest.mark.parametrize(
    "optional",
    [{}, {"issue_key": None, "product": None, "summary": None}],
    ids=["every-field", "nulls"],
)
def test_the_body_validates_against_the_model_and_the_checked_in_schema(
    action, event_type, optional
):
    request = sent(page_request(action, **optional))
    body = json.loads(request.content)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(body, SCHEMA)
    page = codec.decode(WebhookPage, request.content)
    assert codec.encode_http_body(page) == request.content
    assert set(body) == FIELDS  # optional fields are present, null when unknown
    assert body["type"] == event_type
    assert body["page_id"] == request.headers["webhook-id"] == page_id_for(ESCALATION, 1, action)
    for name in ("issue_key", "product", "summary"):
        assert body[name] == optional.get(name, page_request().model_dump()[name])


def test_the_body_keeps_the_field_values_receivers_read():
    request = sent(page_request(), now=1_800_000_000)
    body = json.loads(request.content)
    assert body["customer"] == {"id": "C-1042", "tier": "vip"}
    assert body["created_at"] == "2026-11-24T14:00:00+00:00"
    assert body["dedup_key"] == body["escalation_id"] == ESCALATION
    assert body["ack_url"] == f"http://intake.test:8080/v1/escalations/{ESCALATION}/ack"
    assert body["resolve_url"] == f"http://intake.test:8080/v1/escalations/{ESCALATION}/resolve"
    assert body["contacts"] == ["crm-1", "crm-2", "crm-3"]
    later = datetime(2026, 11, 24, 9, 0, 0, 250000, tzinfo=timezone(timedelta(hours=-5)))
    assert json.loads(sent(page_request(created_at=later)).content)["created_at"] == (
        "2026-11-24T09:00:00.250000-05:00"
    )


def test_the_request_is_signed_per_standard_webhooks():
    request = sent(page_request(), now=1_800_000_000)
    headers = dict(request.headers)
    assert headers["content-type"] == "application/json"
    assert headers["webhook-timestamp"] == "1800000000"
    assert verify(SECRET, headers, request.content, 1_800_000_000) == headers["webhook-id"]


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.update(escalated_by="nobody"),
        lambda body: body.pop("issue_key"),
        lambda body: body.update(type="escalation.stepped"),
        lambda body: body["customer"].update(tier="gold"),
    ],
    ids=["unknown-field", "missing-field", "unknown-type", "unknown-tier"],
)
def test_model_and_schema_refuse_the_same_drift(change):
    body = json.loads(sent(page_request()).content)
    change(body)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, SCHEMA)
    with pytest.raises(codec.DecodeError):
        codec.decode(WebhookPage, json.dumps(body))


def sink_request(webhook_id: str, body: bytes) -> Request:
    now = int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(SECRET, webhook_id, now, body),
    }
    return Request("POST", "/pages", headers, body)


async def test_the_sink_accepts_what_the_target_sends_and_counts_a_repeat():
    out = io.StringIO()
    sink = PageSink(SECRET, out)
    request = sent(page_request(), now=int(time.time()))
    delivery = Request("POST", "/pages", dict(request.headers), request.content)
    assert (await sink.receive(delivery)).status == 204
    assert (await sink.receive(delivery)).status == 204
    assert [p["page"] for p in sink.log.pages()] == [json.loads(request.content)]
    assert sink.log.totals()["distinct_pages"] == 1
    assert sink.log.totals()["deliveries"] == 2  # the repeat is acknowledged and counted
    assert out.getvalue().count("PAGE [escalation.paged] level 1") == 1


async def test_the_sink_refuses_a_signed_page_that_breaks_the_contract():
    sink = PageSink(SECRET, io.StringIO())
    body = json.loads(sent(page_request()).content)
    del body["owner"]
    with pytest.raises(Problem) as refused:
        await sink.receive(sink_request("msg_drift", json.dumps(body).encode()))
    assert refused.value.status == 422
    assert ["owner"] in [error["loc"] for error in refused.value.errors or []]
    assert sink.log.pages() == []
    assert sink.log.totals()["rejected_deliveries"] == 1
