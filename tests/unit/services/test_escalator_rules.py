from datetime import UTC, datetime

import pytest
from tests.unit.factories import T0, hours, routed

from escalation.schemas import SEEN_LIMIT, EscalationCommand, codec, page_id_for
from escalation.schemas.state import CONTACTS_SHOWN, MARKS_LIMIT
from escalation.services.escalator.rules import decide_command, decide_contact

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def feed(*contacts, state=None):
    decisions = []
    for contact in contacts:
        decision = decide_contact(state, contact, contact.routing, NOW)
        state = decision.state
        decisions.append(decision)
    return state, decisions


def command(escalation_id, action="ack", command_id="cmd-1", by="chen"):
    return EscalationCommand(
        command_id=command_id,
        action=action,
        escalation_id=escalation_id,
        customer_id="C-1042",
        at=NOW,
        by=by,
    )


def test_third_contact_within_window_opens_one_escalation_and_one_page():
    state, decisions = feed(
        routed("a", T0), routed("b", T0 + hours(24)), routed("c", T0 + hours(48))
    )
    assert [d.outcome for d in decisions] == ["recorded", "recorded", "opened"]
    opened = decisions[-1]
    assert [e.type for e in opened.escalations] == ["opened", "paged"]
    assert len(opened.pages) == 1
    page = opened.pages[0]
    assert page.contacts == ["a", "b", "c"]
    assert page.reason.startswith("repeat.contacts: 3 contacts within 72h")
    assert page.dedup_key == state.escalation_id == page.escalation_id
    assert page.owner == "chen"


def test_contacts_outside_the_window_do_not_count():
    _, decisions = feed(routed("a", T0), routed("b", T0 + hours(50)), routed("c", T0 + hours(73)))
    assert decisions[-1].outcome == "recorded"


def test_out_of_order_contacts_count_by_when_they_happened():
    _, decisions = feed(routed("c", T0 + hours(48)), routed("a", T0), routed("b", T0 + hours(1)))
    assert decisions[-1].outcome == "opened"
    assert decisions[-1].pages[0].contacts == ["a", "b", "c"]


def test_critical_contact_pages_at_once():
    _, decisions = feed(routed("vip-1", T0, urgency="critical"))
    assert decisions[0].outcome == "opened"
    assert decisions[0].pages[0].reason == "urgency.critical"


def test_redelivered_event_is_a_duplicate_and_counts_once():
    state, decisions = feed(routed("a", T0), routed("a", T0), routed("b", T0 + hours(1)))
    assert [d.outcome for d in decisions] == ["recorded", "duplicate", "recorded"]
    assert [m.event_id for m in state.contacts] == ["a", "b"]


def test_reprocessing_the_same_input_yields_the_same_ids():
    before, _ = feed(routed("a", T0), routed("b", T0 + hours(1)))
    first = decide_contact(before, (c := routed("c", T0 + hours(2))), c.routing, NOW)
    again = decide_contact(before, (c := routed("c", T0 + hours(2))), c.routing, NOW)
    assert first.pages[0].page_id == again.pages[0].page_id
    assert first.state.escalation_id == again.state.escalation_id


def test_contacts_on_an_open_escalation_are_grouped_and_keep_the_owner():
    state, _ = feed(routed("a", T0, urgency="critical"))
    state, decisions = feed(routed("b", T0 + hours(1), owner="dana"), state=state)
    assert decisions[0].outcome == "grouped"
    assert decisions[0].pages == []
    assert state.owner == "chen"
    assert state.escalation_contacts == ["a", "b"]


def test_ack_then_resolve_emit_once_each():
    state, _ = feed(routed("a", T0, urgency="critical"))
    acked = decide_command(state, command(state.escalation_id), NOW)
    assert acked.outcome == "acked"
    assert [e.type for e in acked.escalations] == ["acked"]
    assert acked.pages[0].action == "acknowledge"
    assert decide_command(acked.state, command(state.escalation_id), NOW).outcome == "duplicate"
    resolved = decide_command(acked.state, command(state.escalation_id, "resolve", "cmd-2"), NOW)
    assert resolved.outcome == "resolved"
    assert resolved.state.status == "resolved"
    assert resolved.pages[0].action == "resolve"


def test_command_for_an_escalation_that_never_opened_is_unknown():
    state, _ = feed(routed("a", T0, urgency="critical"))
    unknown = decide_command(state, command(state.escalation_id[:-1] + "7"), NOW)
    assert unknown.outcome == "unknown" and unknown.state == state
    absent = command("e1.Qy0xMDQy.ffffffffffffffffffffffff.1")
    assert decide_command(None, absent, NOW).outcome == "unknown"


def test_after_the_reopen_window_a_new_escalation_gets_a_new_id():
    state, _ = feed(routed("a", T0, urgency="critical"))
    first_id = state.escalation_id
    state = decide_command(state, command(first_id, "resolve"), NOW).state
    state, decisions = feed(routed("b", NOW + hours(24 * 8), urgency="critical"), state=state)
    assert decisions[0].outcome == "opened"
    assert state.escalation_id != first_id
    assert state.escalation_id.endswith(".2")


def test_a_command_with_a_malformed_escalation_id_is_a_schema_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"e1\.<customer>"):
        command("e1.Qy0xMDQy.other.1")


def test_state_stays_bounded_however_many_contacts_and_commands():
    # Every contact on one open issue, ids as long as the schema allows.
    long_id = "x" * 120
    state, _ = feed(routed(f"{long_id}-0", T0, urgency="critical"))
    for n in range(1, 300):
        state, _ = feed(routed(f"{long_id}-{n}", T0 + hours(n / 10)), state=state)
    state = decide_command(state, command(state.escalation_id, command_id="c" * 128), NOW).state
    assert len(state.seen) == SEEN_LIMIT
    assert len(state.contacts) == MARKS_LIMIT
    assert len(state.escalation_contacts) == CONTACTS_SHOWN
    # Worst case: every kept id as long as the schema allows (128); about 1 KiB at 20.
    assert len(codec.encode(state)) < 6 * 1024


def test_typical_open_issue_state_is_under_one_kib():
    state, _ = feed(
        routed("crm-7781-1", T0, summary="AC failed again after repair; house at 31 C"),
        routed("crm-7781-2", T0 + hours(20), summary="Called again, nobody came"),
        routed("crm-7781-3", T0 + hours(30), summary="Third call: elderly customer, heat"),
    )
    assert state.status == "open"
    assert len(codec.encode(state)) <= 1024


def test_an_open_issue_with_a_ladder_snapshot_and_timers_stays_under_one_kib():
    from escalation.schemas import EscalationSettings, LadderStep
    from escalation.services.escalator.timers import decide_tick, tick_for

    ladder = EscalationSettings(
        ack_timeout_seconds=3600,
        deadline_lead_seconds=7200,
        ladder=[
            LadderStep(after_seconds=1800, notify="team"),
            LadderStep(
                after_seconds=3600,
                notify="schedule",
                to="engineers-on-call",
                repeat=2,
                every_seconds=900,
            ),
            LadderStep(after_seconds=7200, notify="fallback_owner", to="grace"),
        ],
    )
    deadline = (NOW + hours(20)).isoformat()
    state, _ = feed(
        routed("crm-7781-1", T0, escalation=ladder, summary="AC failed again after repair"),
        routed("crm-7781-2", T0 + hours(2), escalation=ladder, deadline=deadline),
        routed("crm-7781-3", T0 + hours(3), escalation=ladder, summary="Third call: heat"),
    )
    state = decide_tick(state, tick_for(state), NOW + hours(100 / 60), None).state
    assert state.level == 3 and state.loop == 2
    assert len(state.snapshot.ladder) == 3 and state.deadline_due is not None
    encoded = codec.encode(state)
    assert codec.decode_state(encoded) == state
    assert len(encoded) <= 1024


def test_state_written_before_ladders_existed_still_decodes_and_never_climbs():
    from escalation.services.escalator.timers import next_due

    old = (
        b'{"customer_id":"C-1042","customer_tier":"standard","issue_id":"0123456789abcdef01234567",'
        b'"category":"hvac.repair","owner":"chen","team":"service-engineers",'
        b'"targets":["ops-webhook"],"contacts":[{"event_id":"a","at":"2026-11-24T14:00:00Z"}],'
        b'"seen":["NNH27uvxNnc"],"escalation_id":"e1.Qy0xMDQy.0123456789abcdef01234567.1",'
        b'"escalation_seq":1,"status":"open","level":1,"escalation_contacts":["a"],'
        b'"opened_at":"2026-11-24T14:00:00Z","updated_at":"2026-11-24T14:00:00Z"}'
    )
    state = codec.decode_state(old)
    assert state.snapshot is None and state.version == 0
    assert next_due(state) is None
    acked = decide_command(state, command(state.escalation_id), NOW)
    assert acked.outcome == "acked"
    assert acked.pages[0].page_id == page_id_for(state.escalation_id, 1, "acknowledge")
