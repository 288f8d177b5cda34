"""Escalator service: routed contacts, commands and timer ticks -> issue table -> escalations
and pages.

One agent reads ``contacts.routed.v1``, ``escalation.commands.v1`` and
``escalation.ticks.v1``: all keyed by customer id and co-partitioned, so the issue an
input names lives in the partition (and the table shard) the agent already holds. The
ticks come from the worker's own timer task (``scanner.py``), one for each issue whose
deadline passed, on the partition that holds it: a ladder step, a missed commitment, a
customer's deadline or a follow-up is decided in the agent like any input, with the same
rule: effects first, then the state.

The escalator follows the policy file as the router and the pager do (reloaded on change
and on SIGHUP) and gives every decision a roster of the policy in force, so a step pages
whoever is on call when it fires. The query API (``query.py``) is served on its web port.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from faust.types import EventT

from escalation.policy import PolicyRoster
from escalation.policy.quiet import QuietRules
from escalation.policy.reload import Derived, PolicyHolder
from escalation.policy.silencing import PolicySilences
from escalation.schemas import (
    PageRequest,
    Routing,
    Tick,
    codec,
    issue_state_key,
    parse_escalation_id,
)
from escalation.schemas.page import ROUTING_REASONS_SHOWN
from escalation.schemas.silence import Silence
from escalation.schemas.state import IssueState
from escalation.services.common import crashpoints
from escalation.services.common.controls import ControlsReader, ControlsView
from escalation.services.common.http import HttpApp
from escalation.services.common.policy_watch import PolicyWatcher
from escalation.services.common.settings import Settings
from escalation.services.common.stream import StreamService
from escalation.services.common.topics import (
    COMMANDS,
    ESCALATIONS,
    ESCALATOR_APP,
    ISSUES_TABLE,
    PAGES,
    ROUTED,
    SURGES,
    TICKS,
    TIMELINES_TABLE,
    changelog_of,
)

from .due import Due, DueIndex
from .holdings import Holdings
from .holds import apply_holds
from .inhibit import inhibit
from .metrics import EscalatorMetrics
from .observe import Observer
from .open_index import OpenEscalations
from .query import Query
from .rules import Decision, decide_command, decide_contact
from .scanner import TickScanner
from .surges import decide_surge
from .timeline import appended
from .timers import decide_tick

log = structlog.get_logger(__name__)


class EscalatorService(StreamService):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, ESCALATOR_APP, "escalator", settings.escalator_port)
        # What the other workers forward a query to (faust's assignor shares it).
        self.app.conf.canonical_url = settings.escalator_own_url
        self.holder = PolicyHolder(settings.policy, self.metrics.registry)
        self.roster = Derived(self.holder, PolicyRoster)
        self.quiet = Derived(self.holder, QuietRules)
        self.file_silences = Derived(self.holder, PolicySilences)
        self.issues = self.bytes_table(ISSUES_TABLE, on_changelog_event=self._recovered)
        self.timelines = self.bytes_table(TIMELINES_TABLE)
        self.timers = DueIndex()
        self.timers_ready = False
        self.open = OpenEscalations()
        self.controls = ControlsView()  # open surges, read whole by every worker
        self.engine = EscalatorMetrics(
            self.metrics.registry,
            lambda: len(self.timers),
            self.open,
            lambda: len(self.controls.active("surge")),
            lambda: len(self._api_silences(datetime.now(UTC))),
        )
        self.observer = Observer(self.engine)
        self.holdings = Holdings(
            self.issues,
            self.timelines,
            settings.kafka_partitions,
            self._held,
            self._unsettled,
            self._holder_url,
        )
        self.scanner = TickScanner(
            self.timers, self._settled, self._send_tick, settings.escalator_tick_idle_seconds
        )
        self.controls_reader = ControlsReader(settings, self.controls)
        self.controls.listeners.append(self._control_changed)
        self._releases: set[asyncio.Future[None]] = set()
        self.inputs = self.topic(ROUTED, COMMANDS, TICKS, SURGES)
        self.escalations_out = self.topic(ESCALATIONS)
        self.pages_out = self.topic(PAGES)
        self.ticks_out = self.topic(TICKS)
        self.consume(self.inputs, "escalate", self.handle)
        # Ready once assigned, recovered, and the deadlines read back: one reason at a time.
        self.ready_checks = [lambda: self._unsettled() or self.controls_reader.ready()]
        self.issues.on_recover(self._rebuild_timers)
        self.app.on_partitions_revoked.connect(self._revoked)
        self.app.service(PolicyWatcher(self.holder))
        self.app.service(self.scanner)
        self.app.service(self.controls_reader)

    async def handle(self, event: EventT) -> None:
        now = datetime.now(UTC)
        roster = self.roster.get()
        topic = event.message.topic
        routed = command = None
        if topic == TICKS:
            tick = codec.decode_tick(event.message.value)
            key = issue_state_key(tick.customer_id, tick.issue_id)
            before = self._load(key)
            decision = decide_tick(before, tick, now, roster)
            decision = inhibit(decision, self.controls.controls, now, roster)
            kind = "tick"
        elif topic == COMMANDS:
            command = codec.decode_command(event.message.value)
            ref = parse_escalation_id(command.escalation_id)
            key = issue_state_key(ref.customer_id, ref.issue_id)
            before = self._load(key)
            decision = decide_command(before, command, now, roster)
            kind = "command"
        elif topic == SURGES:
            surge = codec.decode_surge(event.message.value)
            key = issue_state_key(surge.customer_id, surge.issue_id)
            before = self._load(key)
            decision = decide_surge(before, surge, now, roster)
            kind = "surge"
        else:
            routed = codec.decode_routed(event.message.value)
            key = issue_state_key(routed.customer.id, routed.issue_id)
            before = self._load(key)
            decision = decide_contact(before, routed, routed.routing, now, roster)
            decision = inhibit(decision, self.controls.controls, now, roster, routed)
            decision.pages = [with_routing(p, routed.routing) for p in decision.pages]
            kind = "contact"
        decision = self._held_back(before, decision, now, routed)
        if decision.outcome == "duplicate":
            self.metrics.duplicates.labels(topic).inc()
            self.observer.decided(kind, before, decision, now, routed, command)
            return
        if before is None and decision.state is None:
            self.timers.put(key, event.message.partition, None)  # a tick for nothing held
        await self._emit(decision)
        self.observer.decided(kind, before, decision, now, routed, command)
        crashpoints.crash_point("escalator.after_emit", when=bool(decision.pages))
        # State is written after the effects are acknowledged: a crash in between replays
        # the input, which yields the same ids, and the pager drops the copy.
        if decision.state is not None and decision.state is not before:
            self._write_timeline(key, decision)
            self.issues[key] = codec.encode(decision.state)
            self._remember(key, event.message.partition, decision.state)

    def _load(self, key: bytes) -> IssueState | None:
        return self.holdings.state(key)

    def _write_timeline(self, key: bytes, decision: Decision) -> None:
        """Before the state: a crash in between reprocesses the input, adding nothing twice."""
        if not decision.escalations:
            return
        timeline = appended(self.holdings.timeline(key), decision.escalations, decision.pages)
        if timeline is not None:
            self.timelines[key] = codec.encode(timeline)

    def _remember(self, key: bytes, partition: int, state: IssueState) -> None:
        self.holdings.learn(key, partition)
        self.open.put(key, state)
        if self.timers.put(key, partition, state):
            self.scanner.wake()

    async def _emit(self, decision: Decision) -> None:
        pending = []
        for record in decision.escalations:
            if record.type == "paged":
                continue  # the pager writes it once a target took the page (outcomes.py)
            pending.append(
                await self.escalations_out.send(
                    key=record.customer_id.encode(),
                    value=codec.encode(record),
                    headers=[
                        (
                            "event-id",
                            f"{record.escalation_id}:{record.type}:{record.cause_id}".encode(),
                        )
                    ],
                )
            )
            self.engine.lifecycle.labels(record.type).inc()
        for page in decision.pages:
            pending.append(
                await self.pages_out.send(
                    key=page.customer_id.encode(),
                    value=codec.encode(page),
                    headers=[("event-id", page.page_id.encode())],
                )
            )
        for future in pending:
            await future
        self.metrics.produced.labels(ESCALATIONS).inc(len(decision.escalations))
        self.metrics.produced.labels(PAGES).inc(len(decision.pages))

    # -- timers --------------------------------------------------------------------------

    async def _send_tick(self, due: Due) -> None:
        tick = due.tick
        ident = f"tick:{tick.customer_id}/{tick.issue_id}:{tick.version}"
        sent = await self.ticks_out.send(
            key=tick.customer_id.encode(),
            value=codec.encode(tick),
            partition=due.partition,
            headers=[("event-id", ident.encode())],
        )
        await sent  # the broker's ack: a tick not taken is tried again (scanner.py)
        self.engine.ticks_sent.inc()
        self.metrics.produced.labels(TICKS).inc()

    def _held_back(
        self, before: IssueState | None, decision: Decision, now: datetime, contact: Any
    ) -> Decision:
        """Silences (API, file, maintenance) and quiet hours hold pages back (holds.py)."""
        silences = self.file_silences.get().active(now) + self._api_silences(now)
        return apply_holds(before, decision, silences, self.quiet.get(), now, contact)

    def _api_silences(self, now: datetime) -> list[Silence]:
        found = [c.silence for c in self.controls.active("silence") if c.silence is not None]
        return [s for s in found if s.starts_at <= now < s.ends_at]

    def _control_changed(self, control: Any) -> None:
        """A surge closed or a silence expired: tick each issue it held here, so the
        release happens now."""
        if control.active or not self._settled():
            return
        for key, partition, state in self.holdings.held_states():
            silenced = state.hold is not None and state.hold.silence_id == control.id
            surged = state.surge is not None and state.surge.held and state.surge.id == control.id
            if silenced or surged:
                tick = Tick(
                    customer_id=state.customer_id,
                    issue_id=state.issue_id,
                    version=state.version,
                    due=control.at,
                )
                task = asyncio.ensure_future(self._send_tick(Due(key, partition, tick)))
                self._releases.add(task)  # a send that fails leaves it to the next input
                task.add_done_callback(self._releases.discard)

    async def _recovered(self, event: EventT) -> None:
        """Table recovery read this key's state from a changelog partition: remember which."""
        if self.app.in_recovery and event.message.key is not None:
            self.holdings.learn(event.message.key, event.message.partition)

    async def _rebuild_timers(self) -> None:
        started = time.perf_counter()
        self.timers.rebuild(self.holdings.held_states())
        self.open.rebuild(self.holdings.held_states())
        self.timers_ready = True
        elapsed = time.perf_counter() - started
        self.engine.rebuild_seconds.observe(elapsed)
        log.info(
            "escalator.timers_rebuilt",
            pending=len(self.timers),
            partitions=sorted(self._held()),
            seconds=round(elapsed, 3),
        )
        self.scanner.wake()

    async def _revoked(self, sender: Any, revoked: Any = (), **kwargs: Any) -> None:
        self.timers_ready = False  # until the index is rebuilt for the new assignment

    def _timers_pending(self) -> str | None:
        return None if self.timers_ready else "deadlines not yet read from the recovered state"

    def _settled(self) -> bool:
        return self.timers_ready and not self.app.rebalancing and not self.app.in_recovery

    def _held(self) -> set[int]:
        actives = self.app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic == TICKS}

    # -- the query API -------------------------------------------------------------------

    def _unsettled(self) -> str | None:
        return self._assigned() or self._timers_pending()

    def _holder_url(self, partition: int) -> str | None:
        changelog = changelog_of(ESCALATOR_APP, ISSUES_TABLE)
        own = self.settings.escalator_own_url
        for url, topics in self.app.assignor.table_metadata(changelog).items():
            if partition in topics.get(changelog, ()) and str(url).rstrip("/") != own:
                return str(url)
        return None

    def http(self) -> HttpApp:
        http = super().http()
        Query(self.holdings).routes(http)
        return http


def with_routing(page: PageRequest, routing: Routing) -> PageRequest:
    """A page made by a contact says why its owner was chosen (the receivers show it)."""
    reasons = [reason[:1024] for reason in routing.reasons[-ROUTING_REASONS_SHOWN:]]
    return page.model_copy(update={"route": routing.route, "routing_reasons": reasons})


def build(settings: Settings) -> EscalatorService:
    return EscalatorService(settings)
