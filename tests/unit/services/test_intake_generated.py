"""A generated run over intake's HTTP API: 10,000 cases, no 5xx, every error a problem.

Hypothesis draws 2,000 requests (valid, mutated and random contacts and batches,
commands on real and made-up escalation ids, any bytes, any header, any path) and sends
each to five intakes, through the real ASGI application with httpx.ASGITransport,
in-process: no port and no broker, so the run takes seconds, not minutes as it would
over sockets. The five: with tokens, open, rate-limited, with a broker that refuses
writes, and one not connected yet; only the last two may answer 503, with Retry-After.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.services.intake_fakes import NOW, make
from tests.unit.strategies import contact_dicts, ids, json_bytes, json_scalars, moments

from escalation.schemas import codec, make_escalation_id
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.problems import MAX_LISTED, TYPE_BASE
from escalation.services.intake.app import build_http
from escalation.services.intake.auth import digest

REQUESTS = 2_000
TOKENS = {"crm": "crm-token", "chat": "chat-token"}


def intakes() -> dict[str, httpx.AsyncClient]:
    hashed = {source: digest(token) for source, token in TOKENS.items()}
    variants = {
        "tokens": make(intake_tokens=hashed),
        "open": make(),
        "limited": make(intake_rate_per_source=1, intake_burst_per_source=3),
        "broker-down": make(intake_tokens=hashed),
        "not-connected": make(connected=False),
    }
    variants["broker-down"][1].fail = True
    return {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(
                build_http(intake, ServiceMetrics("intake"), intake.settings)
            ),
            base_url="http://intake",
        )
        for name, (intake, _) in variants.items()
    }


recent = moments((NOW - timedelta(days=364)).replace(tzinfo=None), NOW.replace(tzinfo=None)).map(
    lambda m: m.isoformat()
)
contacts = contact_dicts(
    recent | st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59Z"]), text_size=8
)
sources = st.sampled_from(["crm", "chat"]) | ids(64)
small_json = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), json_scalars, max_size=3),
)


@st.composite
def contact(draw) -> dict:
    event = draw(contacts)
    event["source"] = draw(sources)
    event["event_id"] = draw(st.sampled_from(["dup-1", "dup-2"]) | ids())
    if draw(st.integers(0, 9)) == 0:  # names that are files or directories of a zone database
        event["customer"]["timezone"] = draw(
            st.sampled_from(["America", "Etc", "localtime", "zone.tab", "UTC ", "../UTC", ""])
            | st.text(max_size=12)
        )
    if draw(st.integers(0, 4)) == 0:  # one member replaced, removed or added
        key = draw(st.sampled_from(["surprise", *sorted(event)]))
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(small_json)
    return event


bodies = st.one_of(
    contact().map(json_bytes),
    st.lists(contact(), max_size=3).map(json_bytes),
    small_json.map(json_bytes),
    st.binary(max_size=200),
    st.sampled_from([b"", b"[]", b"[" + b",".join([b"{}"] * 1001) + b"]", b"[" * 300]),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/problem+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ]
)
authorizations = st.sampled_from(
    [
        None,
        "Bearer crm-token",
        "Bearer chat-token",
        "Bearer nope",
        "bearer crm-token",
        "Basic Y3JtOnB3",
        "Bearer",
        "Bearer  crm-token ",
    ]
)
escalation_ids = st.one_of(
    st.builds(
        make_escalation_id,
        ids(),
        st.binary(min_size=12, max_size=12).map(bytes.hex),
        st.integers(1, 10**6),
    ),
    st.text(
        st.characters(exclude_characters="/?#%", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=40,
    ),
)


@st.composite
def requests(draw) -> tuple[str, str, dict[str, str], bytes]:
    headers = {}
    if kind := draw(content_types):
        headers["content-type"] = kind
    if (auth := draw(authorizations)) is not None:
        headers["authorization"] = auth
    target = draw(st.integers(0, 9))
    if target < 6:
        return "POST", "/v1/contacts", headers, draw(bodies)
    if target < 8:
        action = draw(st.sampled_from(["ack", "resolve", "snooze"]))
        path = f"/v1/escalations/{draw(escalation_ids)}/{action}"
        body = draw(
            st.one_of(
                st.just(b""),
                small_json.map(json_bytes),
                st.fixed_dictionaries(
                    {}, optional={"by": ids(), "note": st.text(), "eta": recent}
                ).map(codec.dumps),
            )
        )
        return "POST", path, headers, body
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    path = draw(
        st.sampled_from(
            [
                "/healthz",
                "/readyz",
                "/metrics",
                "/",
                "/v1/contacts",
                "/v1/escalations//ack",
                "/v1/escalations/x/y/ack",
            ]
        )
    )
    return method, path, headers, draw(st.binary(max_size=50))


def check(variant: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    may_be_unavailable = variant in ("broker-down", "not-connected") or path == "/readyz"
    assert status < 500 or (status == 503 and may_be_unavailable), (status, response.text)
    if status in (429, 503) and path != "/readyz":
        assert response.headers["retry-after"].isdigit()
    if status >= 400 and path != "/readyz":
        assert response.headers["content-type"] == "application/problem+json"
        doc = response.json()
        assert doc["type"].startswith(TYPE_BASE) and doc["status"] == status
        assert isinstance(doc["title"], str) and isinstance(doc["detail"], str)
        if "errors" in doc:
            assert len(doc["errors"]) <= MAX_LISTED <= 100
            assert doc["error_count"] >= len(doc["errors"])
            for error in doc["errors"]:
                assert isinstance(error["loc"], list) and isinstance(error["msg"], str)
    if status == 202:
        doc = response.json()
        assert set(doc) in ({"accepted", "duplicates"}, {"command_id", "escalation_id", "action"})


def test_ten_thousand_generated_cases_get_no_5xx_and_valid_problems():
    loop = asyncio.new_event_loop()
    clients = intakes()
    seen: dict[int, int] = {}

    @settings(
        max_examples=REQUESTS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests())
    def run(request):
        method, path, headers, body = request
        for variant, client in clients.items():
            response = loop.run_until_complete(
                client.request(method, path, headers=headers, content=body)
            )
            check(variant, path, response)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1

    try:
        run()
    finally:
        for client in clients.values():
            loop.run_until_complete(client.aclose())
        loop.close()
    assert sum(seen.values()) >= REQUESTS * len(clients) == 10_000
    # The run reached past validation: accepted writes and each kind of refusal.
    assert {202, 400, 401, 403, 404, 413, 415, 422, 429, 503} <= set(seen), seen
