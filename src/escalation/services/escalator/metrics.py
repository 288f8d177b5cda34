"""The escalator's own metrics, beside the ones every service has.

The domain figures (repeat contacts, first-contact resolution, time to ack and to
resolve, CSAT after resolution, resolve causes, open escalations) are counted from the
decisions in ``observe.py``. faust reprocesses an input after a crash or a rebalance, so
a counter may count that input twice; the state, and so the open-escalations gauge, is
exact.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from escalation.services.common.metrics import Children

from .open_index import OpenEscalations

DURATION_BUCKETS = (
    1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800
)  # fmt: skip
"""Seconds from a minute to a week: how long people take to acknowledge and resolve."""


class EscalatorMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        pending: Callable[[], int],
        open_escalations: OpenEscalations | None = None,
        surges: Callable[[], int] = lambda: 0,
        silences: Callable[[], int] = lambda: 0,
    ) -> None:
        self.outcomes = Counter(
            "escalation_escalator_outcomes_total",
            "What each input did to its issue (input: contact, command, tick); a command "
            "naming an escalation the issue never had is outcome=unknown.",
            ["input", "outcome"],
            registry=registry,
        )
        self.lifecycle = Counter(
            "escalation_lifecycle_events_total",
            "Escalation lifecycle events emitted.",
            ["type"],
            registry=registry,
        )
        self.raised = Counter(
            "escalation_escalations_opened_total",
            "Escalations opened, reopened or raised a level (type), by why (reason: urgency, "
            "repeat, deadline, ack_timeout, ladder_step, ladder_repeat, eta_missed, csat, "
            "sentiment, contact, command, reassigned, surge, other).",
            ["type", "reason"],
            registry=registry,
        )
        self.contacts = Counter(
            "escalation_issue_contacts_total",
            "Contacts on customer issues: first (no other contact on the issue within its "
            "repeat window), repeat (the customer had to come back), survey (an answer).",
            ["contact"],
            registry=registry,
        )
        self.time_to_ack = Histogram(
            "escalation_time_to_ack_seconds",
            "From an escalation opening (or reopening) to its acknowledgement, by team.",
            ["team"],
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.time_to_resolve = Histogram(
            "escalation_time_to_resolve_seconds",
            "From an escalation opening to its resolution, by team.",
            ["team"],
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.resolutions = Counter(
            "escalation_resolutions_total",
            "Escalations resolved, by product category, the owner's cause (defect, usage, "
            "expectation, other, none) and contacts (one: first-contact resolution; several).",
            ["category", "cause", "contacts"],
            registry=registry,
        )
        self.csat = Histogram(
            "escalation_csat_after_resolve",
            "CSAT answers (1-5) on an issue after its escalation was resolved.",
            registry=registry,
            buckets=(1, 2, 3, 4, 5),
        )
        self.contact_to_page = Histogram(
            "escalation_contact_to_page_seconds",
            "From a contact's occurred_at to the page request it caused, acknowledged by "
            "the broker (delivery adds escalation_page_delivery_seconds).",
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.lateness = Histogram(
            "escalation_escalator_timer_lateness_seconds",
            "How long after its deadline a tick fired it (the earliest deadline it fired).",
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.ticks_sent = Counter(
            "escalation_escalator_ticks_sent_total",
            "Ticks the timer task sent for issues whose deadline passed.",
            registry=registry,
        )
        timers = Gauge(
            "escalation_escalator_timers",
            "Issues of the held partitions with a deadline pending.",
            registry=registry,
        )
        timers.set_function(pending)
        self.rebuild_seconds = Histogram(
            "escalation_escalator_timer_rebuild_seconds",
            "Time to rebuild the deadline index from the table after a recovery.",
            registry=registry,
            buckets=(0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        # The children counted for each input, looked up once (observe.py, app.py).
        self.outcome = Children(self.outcomes)
        self.lifecycle_of = Children(self.lifecycle)
        self.raised_by = Children(self.raised)
        self.contact_kind = Children(self.contacts)
        if open_escalations is not None:
            registry.register(open_escalations)
        open_surges = Gauge(
            "escalation_escalator_surges_open",
            "Open surges in this worker's controls view: their products' pages are held.",
            registry=registry,
        )
        open_surges.set_function(surges)
        active_silences = Gauge(
            "escalation_escalator_silences_active",
            "Silences made through the API in force now, in this worker's controls view.",
            registry=registry,
        )
        active_silences.set_function(silences)
