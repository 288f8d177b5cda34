"""The escalator's inputs decided, and a decision's outputs as records to send.

A contact, a command, a tick or a surge record is decoded here (``schemas.codec`` raises
on bad bytes, which the caller dead-letters) and decided by the pure functions against
its issue's state as ``load`` gives it: the batch's overlay, so an input sees what the
inputs before it in the same batch decided. Contacts and ticks then pass the open surges'
inhibition (``inhibit.py``), and every decision the caller's ``hold`` (silences and quiet
hours, ``holds.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple

from faust.types import EventT

from escalation.policy import PolicyRoster
from escalation.schemas import (
    EscalationCommand,
    PageRequest,
    RoutedContact,
    Routing,
    codec,
    issue_state_key,
    parse_escalation_id,
)
from escalation.schemas.base import copied
from escalation.schemas.page import ROUTING_REASONS_SHOWN
from escalation.schemas.state import IssueState
from escalation.schemas.surge import Control
from escalation.services.common.batches import Outgoing
from escalation.services.common.topics import COMMANDS, ESCALATIONS, PAGES, SURGES, TICKS

from .inhibit import inhibit
from .rules import Decision, decide_command, decide_contact
from .surges import decide_surge
from .timers import decide_tick

Hold = Callable[[IssueState | None, Decision, datetime, RoutedContact | None], Decision]
"""Silences and quiet hours over a decision: (state before, decision, now, contact)."""


class Decided(NamedTuple):
    key: bytes
    before: IssueState | None
    decision: Decision
    kind: str
    """Which input: contact, command, tick or surge."""
    contact: RoutedContact | None = None
    command: EscalationCommand | None = None


def decide(
    event: EventT,
    load: Callable[[bytes], IssueState | None],
    now: datetime,
    roster: PolicyRoster | None,
    controls: Mapping[str, Control],
    hold: Hold,
) -> Decided:
    """One input decided against ``load``'s state of the issue it names."""
    key, before, decision, kind, contact, command = _decided(event, load, now, roster, controls)
    # A new tuple, not ``_replace``: that one goes through Python for every input.
    return Decided(key, before, hold(before, decision, now, contact), kind, contact, command)


def _decided(
    event: EventT,
    load: Callable[[bytes], IssueState | None],
    now: datetime,
    roster: PolicyRoster | None,
    controls: Mapping[str, Control],
) -> Decided:
    value = event.message.value
    topic = event.message.topic
    if topic == TICKS:
        tick = codec.decode_tick(value)
        key = issue_state_key(tick.customer_id, tick.issue_id)
        before = load(key)
        decision = inhibit(decide_tick(before, tick, now, roster), controls, now, roster)
        return Decided(key, before, decision, "tick")
    if topic == COMMANDS:
        command = codec.decode_command(value)
        ref = parse_escalation_id(command.escalation_id)
        key = issue_state_key(ref.customer_id, ref.issue_id)
        before = load(key)
        return Decided(
            key, before, decide_command(before, command, now, roster), "command", None, command
        )
    if topic == SURGES:
        surge = codec.decode_surge(value)
        key = issue_state_key(surge.customer_id, surge.issue_id)
        before = load(key)
        return Decided(key, before, decide_surge(before, surge, now, roster), "surge")
    routed = codec.decode_routed(value)
    key = issue_state_key(routed.customer.id, routed.issue_id)
    before = load(key)
    decision = decide_contact(before, routed, routed.routing, now, roster)
    decision = inhibit(decision, controls, now, roster, routed)
    decision.pages = [with_routing(p, routed.routing) for p in decision.pages]
    return Decided(key, before, decision, "contact", routed)


def with_routing(page: PageRequest, routing: Routing) -> PageRequest:
    """A page made by a contact says why its owner was chosen (the receivers show it)."""
    reasons = [reason[:1024] for reason in routing.reasons[-ROUTING_REASONS_SHOWN:]]
    return copied(page, {"route": routing.route, "routing_reasons": reasons})


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
