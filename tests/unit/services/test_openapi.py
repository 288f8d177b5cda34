"""Each service's OpenAPI document against its real routing table, and intake's answers."""

from __future__ import annotations

import httpx
import pytest
from tests.openapi_checks import check_answer, examples, valid_document, validator
from tests.unit.factories import contact_data
from tests.unit.services.intake_fakes import make

from escalation.schemas import codec
from escalation.services.common.http import HttpApp
from escalation.services.common.settings import Settings
from escalation.services.intake.app import build_http

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def intake_http() -> tuple[HttpApp, object]:
    intake, producer = make(escalator_query_url="http://127.0.0.1:9")  # nothing listens
    return build_http(intake, intake.metrics, Settings()), producer


def escalator_http() -> HttpApp:
    from escalation.services.escalator.app import build

    return build(Settings()).http()


def pager_http() -> HttpApp:
    from escalation.services.pager.app import build

    return build(Settings()).http()


async def router_http() -> HttpApp:
    from escalation.services.router.app import Router

    return Router(Settings()).http()


def sink_http() -> HttpApp:
    from escalation.services.pager.sink import PageSink

    return PageSink("whsec_" + "A" * 32).http()


async def every_service() -> dict[str, HttpApp]:
    return {
        "intake": intake_http()[0],
        "router": await router_http(),
        "escalator": escalator_http(),
        "pager": pager_http(),
        "sink": sink_http(),
    }


async def test_every_route_is_documented_with_its_methods_and_nothing_else():
    for name, http in (await every_service()).items():
        doc = valid_document(http.api.render())
        documented = {
            (method.upper(), path) for path, ops in doc["paths"].items() for method in ops
        }
        assert documented == http.routes(), name
        assert doc["info"]["title"] == f"escalation {name}"


async def test_the_escalator_documents_its_query_api_without_a_token():
    doc = escalator_http().api.render()
    one = doc["paths"]["/v1/escalations/{escalation_id}"]["get"]
    assert "security" not in one
    assert "EscalationView" in doc["components"]["schemas"]


def test_intake_names_scopes_and_every_problem_type():
    doc = intake_http()[0].api.render()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    post = doc["paths"]["/v1/contacts"]["post"]
    assert post["security"] == [{"bearer": ["contacts"]}]
    ack = doc["paths"]["/v1/escalations/{escalation_id}/ack"]["post"]
    assert {"bearer": ["escalations"]} in ack["security"]
    types = post["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert types["allOf"][1]["properties"]["type"]["enum"] == [
        "https://escalation.dev/problems/schema-violation",
        "https://escalation.dev/problems/occurred-at-outside-window",
    ]
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
    }


async def test_every_example_validates_against_its_schema():
    for name, http in (await every_service()).items():
        doc = http.api.render()
        found = list(examples(doc))
        assert found, name
        for where, example, schema in found:
            errors = list(validator(doc, schema).iter_errors(example))
            assert not errors, f"{name} {where}: {errors[0].message}"


def test_a_wrong_example_would_be_caught():
    doc = intake_http()[0].api.render()
    schema = doc["paths"]["/v1/contacts"]["post"]["requestBody"]["content"]["application/json"]
    assert list(validator(doc, schema["schema"]).iter_errors({**contact_data(), "csat": 9}))


async def test_intake_answers_validate_against_the_document():
    http, producer = intake_http()
    doc = http.api.render()
    event = contact_data(occurred_at="2026-11-24T09:15:00-05:00")
    envelope = {
        "specversion": "1.0",
        "id": "ce-1",
        "source": "crm",
        "type": "dev.escalation.contact.v1",
        "time": "2026-11-24T09:30:00Z",
        "data": {k: v for k, v in event.items() if k not in ("event_id", "source", "occurred_at")},
    }
    escalation = "/v1/escalations/e1.Qy0xMDQy.bd152f77a69fbc0ed2ac2bce.1"
    calls = [
        ("POST", "/v1/contacts", "/v1/contacts", codec.dumps(event), "application/json", 202),
        ("POST", "/v1/contacts", "/v1/contacts", codec.dumps(event), "application/json", 202),
        ("POST", "/v1/contacts", "/v1/contacts", b"{", "application/json", 400),
        ("POST", "/v1/contacts", "/v1/contacts", b"[]", "application/json", 422),
        ("POST", "/v1/contacts", "/v1/contacts", b"{}", "text/plain", 415),
        (
            "POST",
            "/v1/contacts",
            "/v1/contacts",
            codec.dumps(envelope),
            "application/cloudevents+json",
            202,
        ),
        (
            "POST",
            "/v1/contacts",
            "/v1/contacts",
            codec.dumps([{**envelope, "time": None}]),
            "application/cloudevents-batch+json",
            422,
        ),
        ("POST", f"{escalation}/ack", "/v1/escalations/{escalation_id}/ack", b"", "", 202),
        (
            "POST",
            "/v1/escalations/e2.x/reopen",
            "/v1/escalations/{escalation_id}/reopen",
            b"",
            "",
            404,
        ),
        ("GET", f"{escalation}/resolve", "/v1/escalations/{escalation_id}/resolve", b"", "", 403),
        ("GET", escalation, "/v1/escalations/{escalation_id}", b"", "", 503),
        ("GET", "/healthz", "/healthz", b"", "", 200),
        ("GET", "/readyz", "/readyz", b"", "", 200),
        ("GET", "/metrics", "/metrics", b"", "", 200),
        ("GET", "/openapi.json", "/openapi.json", b"", "", 200),
    ]
    transport = httpx.ASGITransport(app=http)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        for method, url, template, body, media, status in calls:
            headers = {"content-type": media} if media else {}
            answer = await client.request(method, url, content=body, headers=headers)
            assert answer.status_code == status, (url, answer.text)
            check_answer(doc, method, template, answer)
    assert [topic for topic, *_ in producer.sent] == [
        "contacts.v1",
        "contacts.v1",
        "escalation.commands.v1",
    ]


async def test_an_undocumented_answer_fails_the_check():
    http, _ = intake_http()
    doc = http.api.render()
    answer = httpx.Response(418, json={"status": "ok"})
    with pytest.raises(AssertionError, match="418 is not documented"):
        check_answer(doc, "GET", "/healthz", answer)
    wrong = httpx.Response(200, json={"status": "fine"})
    with pytest.raises(AssertionError, match="GET /healthz 200"):
        check_answer(doc, "GET", "/healthz", wrong)
