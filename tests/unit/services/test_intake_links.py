"""Acting on an escalation: token scopes, signed links, the confirm page, and who is recorded.

Through the real ASGI application in process (httpx.ASGITransport), with a fake producer:
what is checked here is what intake answers and what it writes, not the broker.
"""

from __future__ import annotations

import httpx
import pytest
from tests.unit.services.intake_fakes import NOW, make

from escalation.cli.main import main
from escalation.schemas import codec, make_escalation_id
from escalation.services.common.credentials import MissingSetting
from escalation.services.common.links import LinkClaim, new_key, sign
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.intake.app import build_http
from escalation.services.intake.auth import digest

KEY = new_key()
ESCALATION = make_escalation_id("C-7", "0123456789abcdef01234567", 1)
LATER = int(NOW.timestamp()) + 3600
TOKENS = {
    "crm": digest("crm-token"),
    "ops": {"digest": digest("ops-token"), "scopes": ["escalations"]},
    "desk": {"digest": digest("desk-token"), "scopes": ["contacts", "escalations"]},
}
BROWSER = {"accept": "text/html,application/xhtml+xml", "host": "intake"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def link(action="ack", expires=LATER, level=1, target="ops-webhook", key=KEY) -> str:
    return sign(key, LinkClaim(ESCALATION, action, level, expires, target))


@pytest.fixture
async def intake():
    service, producer = make(intake_tokens=TOKENS, link_keys=[KEY])
    app = build_http(service, ServiceMetrics("intake"), service.settings)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        client.sent = producer.sent
        yield client


def commands(client) -> list:
    return [
        codec.decode_command(value)
        for topic, _, value, _ in client.sent
        if topic == "escalation.commands.v1"
    ]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "content-type": "application/json"}


async def test_a_contacts_token_may_not_act_on_escalations(intake):
    reply = await intake.post(f"/v1/escalations/{ESCALATION}/ack", headers=bearer("crm-token"))
    assert reply.status_code == 403
    assert reply.json()["type"].endswith("/insufficient-scope")
    assert "'escalations'" in reply.json()["detail"]
    assert intake.sent == []


async def test_an_escalations_token_acts_and_is_recorded_as_itself(intake):
    body = {"by": "chen", "note": "on my way"}
    reply = await intake.post(
        f"/v1/escalations/{ESCALATION}/ack", json=body, headers=bearer("ops-token")
    )
    assert reply.status_code == 202, reply.text
    [command] = commands(intake)
    assert (command.action, command.by) == ("ack", "token:ops")
    assert command.note == "on behalf of chen: on my way"  # a claim, kept, not trusted


async def test_scopes_keep_contacts_and_escalations_apart(intake):
    event = codec.dumps(
        {
            "event_id": "x-1",
            "occurred_at": NOW.isoformat(),
            "source": "ops",
            "customer": {"id": "C-7"},
            "category": "hvac.repair",
        }
    )
    refused = await intake.post("/v1/contacts", content=event, headers=bearer("ops-token"))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/insufficient-scope")
    desk = event.replace(b'"ops"', b'"desk"')
    assert (
        await intake.post("/v1/contacts", content=desk, headers=bearer("desk-token"))
    ).is_success
    resolve = await intake.post(
        f"/v1/escalations/{ESCALATION}/resolve", headers=bearer("desk-token")
    )
    assert resolve.status_code == 202
    assert commands(intake)[-1].by == "token:desk"


async def test_a_get_of_the_link_shows_what_it_would_do_and_changes_nothing(intake):
    reply = await intake.get(
        f"/v1/escalations/{ESCALATION}/ack", params={"token": link()}, headers=BROWSER
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    csp = reply.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp and "script" not in csp
    assert reply.headers["referrer-policy"] == "same-origin"
    assert reply.headers["cache-control"] == "no-store"
    for shown in (ESCALATION, "C-7", "link:ops-webhook", "ops-webhook", 'method="post"'):
        assert shown in reply.text
    assert intake.sent == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"token": link(expires=int(NOW.timestamp()))}, "expired"),
        ({"token": link(level=2)[:-2] + "AA"}, "not valid"),
        ({"token": link(key=new_key())}, "not valid"),
        ({"token": link(action="resolve")}, "not valid"),
        ({}, "not valid"),
    ],
    ids=["expired", "tampered", "foreign-key", "other-action", "no-token"],
)
async def test_a_bad_link_opens_a_403_page_and_changes_nothing(intake, params, words):
    reply = await intake.get(f"/v1/escalations/{ESCALATION}/ack", params=params, headers=BROWSER)
    assert reply.status_code == 403
    assert reply.headers["content-type"].startswith("text/html")
    assert words in reply.text and "Nothing was changed" in reply.text
    assert "content-security-policy" in reply.headers
    assert intake.sent == []


async def test_the_confirm_form_acts_without_a_bearer_token_and_records_the_link(intake):
    headers = {**FORM, **BROWSER, "origin": "http://intake", "sec-fetch-site": "same-origin"}
    reply = await intake.post(
        f"/v1/escalations/{ESCALATION}/resolve",
        content=f"token={link('resolve')}",
        headers=headers,
    )
    assert reply.status_code == 202, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert "Resolved" in reply.text
    [command] = commands(intake)
    assert (command.action, command.by, command.escalation_id) == (
        "resolve",
        "link:ops-webhook",
        ESCALATION,
    )
    # An API client posting a link token (curl -d token=...) gets the usual JSON.
    api = await intake.post(
        f"/v1/escalations/{ESCALATION}/ack", content=f"token={link()}", headers=FORM
    )
    assert api.status_code == 202 and api.json()["action"] == "ack"


@pytest.mark.parametrize(
    ("path", "body", "extra", "slug"),
    [
        ("ack", f"token={link()}", {"origin": "https://evil.example"}, "cross-site-request"),
        ("ack", f"token={link()}", {"origin": "null"}, "cross-site-request"),
        ("ack", f"token={link()}", {"sec-fetch-site": "cross-site"}, "cross-site-request"),
        ("ack", f"token={link()}", {"sec-fetch-site": "same-site"}, "cross-site-request"),
        ("resolve", f"token={link()}", {}, "invalid-link"),
        ("reopen", f"token={link()}", {}, "invalid-link"),
        ("ack", f"token={link(expires=100)}", {}, "expired-link"),
        ("ack", "", {}, "invalid-link"),
    ],
    ids=[
        "other-origin",
        "null-origin",
        "cross-site",
        "same-site",
        "wrong-action",
        "reopen",
        "expired",
        "empty",
    ],
)
async def test_a_refused_form_post_writes_nothing(intake, path, body, extra, slug):
    reply = await intake.post(
        f"/v1/escalations/{ESCALATION}/{path}", content=body, headers={**FORM, **extra}
    )
    assert reply.status_code == 403, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"].endswith(f"/{slug}")
    assert intake.sent == []


async def test_a_flood_of_fields_is_a_400_not_a_crash(intake):
    flood = "&".join(f"f{i}=x" for i in range(30))
    page = await intake.get(f"/v1/escalations/{ESCALATION}/ack?{flood}", headers=BROWSER)
    form = await intake.post(f"/v1/escalations/{ESCALATION}/ack", content=flood, headers=FORM)
    assert (page.status_code, form.status_code) == (400, 400)
    assert form.json()["type"].endswith("/malformed-form")
    assert intake.sent == []


async def test_a_link_token_in_a_posts_query_authorises_nothing(intake):
    reply = await intake.post(
        f"/v1/escalations/{ESCALATION}/ack", params={"token": link()}, json={"by": "chen"}
    )
    assert reply.status_code == 401
    assert intake.sent == []


async def test_an_intake_without_link_keys_says_so():
    service, _ = make()
    app = build_http(service, ServiceMetrics("intake"), service.settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://intake"
    ) as client:
        reply = await client.get(f"/v1/escalations/{ESCALATION}/ack", params={"token": link()})
    assert reply.status_code == 403 and "holds no link keys" in reply.text


def test_production_intake_and_pager_refuse_to_start_without_link_keys(monkeypatch, capsys):
    monkeypatch.setenv("ESCALATION_PROFILE", "production")
    monkeypatch.delenv("ESCALATION_LINK_KEYS", raising=False)
    with pytest.raises(MissingSetting, match="ESCALATION_LINK_KEYS"):
        make(profile="production")
    for service in ("intake", "pager"):
        assert main([service]) == 2
        assert "ESCALATION_LINK_KEYS: required in production" in capsys.readouterr().err


def test_link_keys_must_be_long_enough():
    from pydantic import ValidationError

    from escalation.services.common.settings import Settings

    with pytest.raises(ValidationError, match="shorter than 32"):
        Settings(link_keys=["short"])
    assert Settings(link_keys=f"{KEY},{new_key()}").link_key_values()[0] == KEY
