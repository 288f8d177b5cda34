"""The escalator's three inputs decided, and a decision's outputs as records to send.

A contact, a command or a tick is decoded here (``schemas.codec`` raises on bad bytes,
which the caller dead-letters) and decided by the pure functions against its issue's
state as ``load`` gives it: the batch's overlay, so an input sees what the inputs before
it in the same batch decided.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from faust.types import EventT

from escalation.policy import PolicyRoster
from escalation.schemas import PageRequest, Routing, codec, issue_state_key, parse_escalation_id
from escalation.schemas.page import ROUTING_REASONS_SHOWN
from escalation.schemas.state import IssueState
from escalation.services.common.batches import Outgoing
from escalation.services.common.topics import COMMANDS, ESCALATIONS, PAGES, TICKS

from .rules import Decision, decide_command, decide_contact
from .timers import decide_tick

log = structlog.get_logger(__name__)

NOT_APPLIED = frozenset({"unknown", "stale", "refused", "ignored"})
"""Command outcomes that change nothing: each is counted and logged with its reason."""

Decided = tuple[bytes, IssueState | None, Decision, str]
"""(issue key, its state before, the decision, which input: contact, command or tick)."""


def decide(
    event: EventT,
    load: Callable[[bytes], IssueState | None],
    now: datetime,
    roster: PolicyRoster | None,
) -> Decided:
    """One input decided against ``load``'s state of the issue it names."""
    value = event.message.value
    topic = event.message.topic
    if topic == TICKS:
        tick = codec.decode_tick(value)
        key = issue_state_key(tick.customer_id, tick.issue_id)
        before = load(key)
        return key, before, decide_tick(before, tick, now, roster), "tick"
    if topic == COMMANDS:
        command = codec.decode_command(value)
        ref = parse_escalation_id(command.escalation_id)
        key = issue_state_key(ref.customer_id, ref.issue_id)
        before = load(key)
        decision = decide_command(before, command, now, roster)
        if decision.outcome in NOT_APPLIED:
            log.warning(
                "escalator.command_not_applied",
                outcome=decision.outcome,
                why=decision.note,
                action=command.action,
                escalation_id=command.escalation_id,
                command_id=command.command_id,
            )
        return key, before, decision, "command"
    routed = codec.decode_routed(value)
    key = issue_state_key(routed.customer.id, routed.issue_id)
    before = load(key)
    decision = decide_contact(before, routed, routed.routing, now, roster)
    decision.pages = [with_routing(p, routed.routing) for p in decision.pages]
    return key, before, decision, "contact"


def with_routing(page: PageRequest, routing: Routing) -> PageRequest:
    """A page made by a contact says why its owner was chosen (the receivers show it)."""
    reasons = [reason[:1024] for reason in routing.reasons[-ROUTING_REASONS_SHOWN:]]
    return page.model_copy(update={"route": routing.route, "routing_reasons": reasons})


def outputs(decision: Decision, partition_of: Callable[[bytes], int]) -> list[Outgoing]:
    """The decision's records and pages in order, keyed by customer id; ``paged`` is the
    pager's to write (once a target took the page), so it is not among them."""
    records = []
    for record in decision.escalations:
        if record.type == "paged":
            continue
        key = record.customer_id.encode()
        ident = f"{record.escalation_id}:{record.type}:{record.cause_id}".encode()
        records.append(
            Outgoing(
                ESCALATIONS, partition_of(key), key, codec.encode(record), [("event-id", ident)]
            )
        )
    for page in decision.pages:
        key = page.customer_id.encode()
        ident = page.page_id.encode()
        records.append(
            Outgoing(PAGES, partition_of(key), key, codec.encode(page), [("event-id", ident)])
        )
    return records
