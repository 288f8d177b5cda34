"""The running services serve their OpenAPI documents, and their answers validate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from escalation.schemas import codec
from escalation.testing.stack import eventually
from tests.integration.conftest import TOKENS
from tests.openapi_checks import check_answer, valid_document
from tests.unit.factories import contact_data

pytestmark = pytest.mark.integration

SERVICES = ("intake", "router", "escalator", "pager")


def url(stack, service: str) -> str:
    return stack.intake if service == "intake" else stack.web(service)


def bearer(source: str) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKENS[source]}"}


def test_every_service_serves_a_valid_document_and_its_pages_match_it(stack):
    for service in SERVICES:
        base = url(stack, service)
        answer = httpx.get(f"{base}/openapi.json", timeout=5)
        doc = valid_document(
            check_answer(valid_document(answer.json()), "GET", "/openapi.json", answer)
        )
        assert doc["info"]["title"] == f"escalation {service}"
        for path in ("/healthz", "/readyz", "/metrics"):
            check_answer(doc, "GET", path, httpx.get(f"{base}{path}", timeout=5))


def test_intake_answers_validate_against_its_document(stack):
    doc = httpx.get(f"{stack.intake}/openapi.json", timeout=5).json()
    now = datetime.now(UTC).isoformat()
    customer = f"C-doc-{uuid.uuid4().hex[:8]}"
    event = contact_data(
        event_id=f"doc-{uuid.uuid4().hex}", occurred_at=now, customer={"id": customer}
    )
    json_body = {**bearer("crm"), "content-type": "application/json"}

    def post(content: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{stack.intake}/v1/contacts", content=content, headers=headers)

    accepted = check_answer(doc, "POST", "/v1/contacts", post(codec.dumps(event), json_body))
    assert accepted == {"accepted": [event["event_id"]], "duplicates": []}
    envelope = {
        "specversion": "1.0",
        "id": f"ce-{uuid.uuid4().hex}",
        "source": "crm",
        "type": "dev.escalation.contact.v1",
        "time": now,
        "data": {k: v for k, v in event.items() if k not in ("event_id", "occurred_at", "source")},
    }
    structured = {**bearer("crm"), "content-type": "application/cloudevents+json"}
    answer = post(codec.dumps(envelope), structured)
    assert check_answer(doc, "POST", "/v1/contacts", answer)["accepted"] == [envelope["id"]]
    bad = post(codec.dumps({**envelope, "time": None}), structured)
    problem = check_answer(doc, "POST", "/v1/contacts", bad)
    assert problem["errors"][0]["loc"] == ["time"]
    wrong = check_answer(doc, "POST", "/v1/contacts", post(b"{}", {**json_body, **bearer("ops")}))
    assert wrong["type"].endswith("insufficient-scope")

    def listed() -> httpx.Response | None:
        answer = httpx.get(
            f"{stack.intake}/v1/escalations",
            params={"customer_id": customer},
            headers=bearer("ops"),
            timeout=5,
        )
        return answer if answer.status_code == 200 else None

    found = check_answer(doc, "GET", "/v1/escalations", eventually(listed, "the query answered"))
    assert found["customer_id"] == customer
    missing = httpx.get(
        f"{stack.intake}/v1/escalations/e1.Qy0x.000000000000000000000000.1",
        headers=bearer("ops"),
        timeout=5,
    )
    check_answer(doc, "GET", "/v1/escalations/{escalation_id}", missing)


def test_the_escalator_query_api_validates_against_its_document(stack):
    base = stack.web("escalator")
    doc = httpx.get(f"{base}/openapi.json", timeout=5).json()
    answer = httpx.get(f"{base}/v1/escalations", timeout=5)
    assert answer.status_code == 422
    check_answer(doc, "GET", "/v1/escalations", answer)
