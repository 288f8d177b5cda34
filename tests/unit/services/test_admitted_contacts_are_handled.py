"""Whatever intake admits, the router, the escalator and the pager can handle.

Hypothesis draws contacts from the schema's own constraints, keeps those intake's
window admits, and runs each through the decision code every consumer runs: routing
under a policy that evaluates every matcher (customer and policy time zones, business
hours, holidays, regexes, attributes, scores), the routed record's bytes as the
router writes them, the escalator's decisions, and the pager's signed webhook.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.services.intake_fakes import NOW
from tests.unit.strategies import contact_dicts, json_bytes, moments

from escalation.policy import NoLoads, RoutingEngine, parse_policy
from escalation.schemas import EscalationCommand, codec
from escalation.services.escalator.rules import decide_command, decide_contact
from escalation.services.intake.admission import EventWindow
from escalation.services.pager.signing import new_secret, verify
from escalation.services.pager.targets.base import Links
from escalation.services.pager.targets.webhook import WebhookTarget
from escalation.services.router.app import routed_bytes

POLICY = """
version: 1
timezone: Pacific/Kiritimati
holidays: {countries: [US, NZ], dates: ["2026-12-24"]}
owners:
  - {id: ana, name: Ana, teams: [front], authority: 1, timezone: Pacific/Pago_Pago,
     hours: [{start: "08:00", end: "16:00"}]}
  - {id: chen, name: Chen, teams: [eng], authority: 3}
teams:
  - {id: front, name: Front, targets: [hook]}
  - {id: eng, name: Engineers, targets: [hook]}
targets:
  - {id: hook, type: webhook, url: "http://127.0.0.1:1/hook", secret: {env: HOOK_SECRET}}
escalation: {repeat_threshold: 1, repeat_window: 1w}
routes:
  - name: customer-evening
    match: {when: {business_hours: false, zone: customer, holiday: false}}
    team: eng
    min_authority: 3
    continue: true
  - name: holidays
    match: {when: {holiday: true}}
    team: eng
    min_authority: 2
    continue: true
  - name: words
    match:
      regex: {summary: "(?i)\\\\b(leak|smoke)\\\\b", attributes.order: "^SO-", customer.id: "."}
      attributes: {order: "*"}
    team: eng
    min_authority: 2
    continue: true
  - name: scores
    match: {sentiment: {max: -0.5}, csat: {min: 1, max: 2}}
    team: eng
    min_authority: 2
    continue: true
  - name: default
    team: front
    min_authority: 1
    fallback: {team: eng}
"""

ENGINE = RoutingEngine(parse_policy(POLICY))
WINDOW = EventWindow(timedelta(days=365), timedelta(days=1))
TARGET = WebhookTarget("hook", "http://127.0.0.1:1/hook", new_secret())
LINKS = Links("http://intake.example")
admitted = moments(
    (NOW - timedelta(days=365)).replace(tzinfo=None), (NOW + timedelta(days=1)).replace(tzinfo=None)
).map(lambda m: m.isoformat())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=contact_dicts(admitted), critical=st.booleans())
def test_every_admitted_contact_is_routed_escalated_and_paged(data, critical):
    if critical:
        data["urgency"] = "critical"
    contact = codec.decode_contacts(json_bytes(data))[0]
    if WINDOW.errors([contact], NOW, batch=False):
        return  # intake answers 422 (the window's own tests cover that)

    decision = ENGINE.decide(contact, NOW, None, NoLoads())
    routed = codec.decode_routed(routed_bytes(contact, decision.routing))
    assert routed.event_id == contact.event_id and routed.routing == decision.routing

    escalation = decide_contact(None, routed, routed.routing, NOW)
    assert escalation.outcome == "opened"  # the policy escalates on the first contact
    for record in escalation.escalations:
        assert codec.decode_escalation(codec.encode(record)) == record
    state = codec.decode_state(codec.encode(escalation.state))
    page = codec.decode_page(codec.encode(escalation.pages[0]))

    request = TARGET.build(page, LINKS, int(NOW.timestamp()))
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify(TARGET.secret, headers, request.content, int(NOW.timestamp())) == page.page_id
    assert codec.loads_plain(request.content)["customer"]["id"] == contact.customer.id

    ack = EscalationCommand(
        command_id="cmd_1",
        action="ack",
        escalation_id=page.escalation_id,
        customer_id=contact.customer.id,
        at=NOW,
        by="chen",
    )
    assert decide_command(state, ack, NOW).outcome == "acked"
    again = decide_contact(state, routed, routed.routing, NOW)
    assert again.outcome == "duplicate"
