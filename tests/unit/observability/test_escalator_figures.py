"""The escalator's domain figures, counted from real decisions of the pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from escalation.schemas import EscalationCommand, RoutedContact
from escalation.services.escalator.metrics import EscalatorMetrics
from escalation.services.escalator.observe import Observer, reason_label
from escalation.services.escalator.open_index import OpenEscalations
from escalation.services.escalator.rules import decide_command, decide_contact
from tests.unit.factories import routed

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_reasons_become_a_few_labels():
    assert reason_label("urgency.critical") == "urgency"
    assert reason_label("repeat.contacts: 3 contacts within 72h") == "repeat"
    assert reason_label("ladder.ack_timeout: level 1 not acknowledged within 15m") == "ack_timeout"
    assert reason_label("eta.missed: ann committed to 2026-01-01; up one level") == "eta_missed"
    assert reason_label("reopened.csat: CSAT 1 after resolution") == "csat"
    assert reason_label("surge.opened: 12 customers") == "surge"
    assert reason_label("C-1042 said something new") == "other"


class Driven:
    """One issue through the pure decisions, each decision told to the observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.open = OpenEscalations()
        self.observer = Observer(EscalatorMetrics(self.registry, lambda: 0, self.open))
        self.state = None

    def contact(self, contact: RoutedContact, now: datetime):
        decision = decide_contact(self.state, contact, contact.routing, now)
        self.observer.decided("contact", self.state, decision, now, contact)
        return self._keep(decision)

    def command(self, action: str, now: datetime, **fields: object):
        assert self.state is not None and self.state.escalation_id is not None
        command = EscalationCommand(
            command_id=f"{action}-{now.timestamp():.0f}",
            action=action,
            escalation_id=self.state.escalation_id,
            customer_id=self.state.customer_id,
            at=now,
            **fields,
        )
        decision = decide_command(self.state, command, now)
        self.observer.decided("command", self.state, decision, now, command=command)
        return self._keep(decision)

    def _keep(self, decision):
        self.state = decision.state or self.state
        self.open.put(b"issue", self.state)
        return decision

    def value(self, name: str, **labels: str) -> float:
        return value(self.registry, name, **labels)


def test_an_issue_reported_three_times_then_acked_resolved_and_rated():
    issue = Driven()
    for n in range(3):
        at = T0 + timedelta(minutes=n)
        issue.contact(routed(f"c{n}", at=at), at + timedelta(seconds=2))
    assert issue.value("escalation_issue_contacts_total", contact="first") == 1
    assert issue.value("escalation_issue_contacts_total", contact="repeat") == 2
    assert issue.value("escalation_escalations_opened_total", type="opened", reason="repeat") == 1
    assert issue.value("escalation_contact_to_page_seconds_count") == 1
    assert issue.value("escalation_contact_to_page_seconds_sum") == 2.0
    assert issue.open.counts() == {("1", "service-engineers", "open"): 1}

    issue.command("ack", T0 + timedelta(minutes=12), by="chen")
    # opened at T0+2m02s (the third contact's decision), acked at T0+12m
    assert issue.value(
        "escalation_time_to_ack_seconds_sum", team="service-engineers"
    ) == pytest.approx(598.0)
    assert issue.open.counts() == {("1", "service-engineers", "acked"): 1}

    issue.command(
        "resolve", T0 + timedelta(hours=1, minutes=2, seconds=2), by="chen", cause="defect"
    )
    assert issue.value("escalation_time_to_resolve_seconds_sum", team="service-engineers") == 3600
    labels = {"category": "hvac.repair", "cause": "defect", "contacts": "several"}
    assert issue.value("escalation_resolutions_total", **labels) == 1
    assert issue.open.counts() == {}

    survey = routed("s1", at=T0 + timedelta(hours=2), channel="survey", csat=5)
    issue.contact(survey, T0 + timedelta(hours=2))
    assert issue.value("escalation_csat_after_resolve_count") == 1
    assert issue.value("escalation_csat_after_resolve_bucket", le="4.0") == 0
    assert issue.value("escalation_issue_contacts_total", contact="survey") == 1


def test_a_critical_first_contact_resolved_counts_as_first_contact_resolution():
    issue = Driven()
    issue.contact(routed("v1", at=T0, urgency="critical"), T0)
    assert issue.value("escalation_escalations_opened_total", type="opened", reason="urgency") == 1
    issue.command("resolve", T0 + timedelta(minutes=30), by="chen", cause="usage")
    labels = {"category": "hvac.repair", "cause": "usage", "contacts": "one"}
    assert issue.value("escalation_resolutions_total", **labels) == 1


def test_a_resent_contact_counts_nothing_but_its_outcome():
    issue = Driven()
    issue.contact(routed("c1", at=T0), T0)
    issue.contact(routed("c1", at=T0), T0)
    assert issue.value("escalation_issue_contacts_total", contact="first") == 1
    assert (
        issue.value("escalation_escalator_outcomes_total", input="contact", outcome="duplicate")
        == 1
    )


def test_open_escalations_are_rebuilt_from_the_held_states():
    issue = Driven()
    issue.contact(routed("v1", at=T0, urgency="critical"), T0)
    index = OpenEscalations()
    index.rebuild([(b"a", 0, issue.state), (b"b", 1, issue.state)])
    assert index.counts() == {("1", "service-engineers", "open"): 2}
    index.put(b"a", None)
    assert len(index) == 1
