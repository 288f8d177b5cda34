"""The query API on the escalator's web port, answered from its own state.

``GET /v1/escalations/{escalation_id}``: the escalation's status, level, owner, team,
deadlines and timeline. ``GET /v1/escalations?customer_id=C``: the current escalation of
each of the customer's issues (no timelines). Only the worker holding the customer's
partition has the state: another worker forwards the request there once (faust's
assignor knows which worker holds each partition), and a worker in the middle of a
rebalance answers 503 with Retry-After.

The port is internal, like ``/metrics``; callers outside go through intake, which checks
their token and proxies here.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import parse_qs

import httpx
import structlog

from escalation.schemas import InvalidEscalationId, codec, issue_state_key, parse_escalation_id
from escalation.schemas.state import IssueState
from escalation.schemas.timeline import Deadlines, EscalationList, EscalationView, Timeline
from escalation.services.common.http import HttpApp, Request, Response
from escalation.services.common.problems import Problem

from .timers import deadlines

log = structlog.get_logger(__name__)

FORWARDED = "x-escalation-forwarded"
"""Set on a request one worker forwards to another, which then answers whatever it holds."""


class IssueReader(Protocol):
    def unsettled(self) -> str | None:
        """Why no partition can be answered for now (rebalancing, recovering), or None."""

    def holder_of(self, customer_id: str) -> str | None:
        """The base URL of the worker holding the customer, None when it is this one;
        LookupError when no worker does (between two assignments)."""

    def state(self, key: bytes) -> IssueState | None: ...

    def timeline(self, key: bytes) -> Timeline | None: ...

    def issue_keys(self, customer_id: str) -> list[bytes]: ...


def deadlines_of(state: IssueState) -> Deadlines:
    live = deadlines(state)
    return Deadlines(
        next_step=live.get("step"),
        eta=live.get("eta"),
        customer_deadline=state.deadline if "deadline" in live else None,
        escalates_at=live.get("deadline"),
        followup=live.get("followup"),
    )


def view(state: IssueState, timeline: Timeline | None = None, full: bool = False) -> EscalationView:
    assert state.escalation_id is not None and state.status is not None
    current = timeline is not None and timeline.escalation_id == state.escalation_id
    kept = timeline if current else None
    return EscalationView(
        escalation_id=state.escalation_id,
        customer_id=state.customer_id,
        issue_id=state.issue_id,
        issue_key=state.issue_key,
        category=state.category,
        product=state.product,
        status=state.status,
        level=state.level,
        owner=state.owner,
        team=state.team,
        opened_at=state.opened_at,
        updated_at=state.updated_at,
        resolved_at=state.resolved_at if state.status == "resolved" else None,
        contacts=state.escalation_contacts,
        deadlines=deadlines_of(state),
        timeline=(kept.entries if kept else []) if full else None,
        timeline_dropped=(kept.dropped if kept else 0) if full else None,
        surge=state.surge,
        affected=state.affected,
    )


def absent(escalation_id: str, state: IssueState | None, sequence: int) -> str:
    """Why a well-formed escalation id has nothing to show, in words."""
    if state is None or state.escalation_id is None:
        return f"escalation {escalation_id} is not known: its issue has no escalation"
    if sequence < state.escalation_seq:
        return (
            f"escalation {escalation_id} was superseded: the issue's current escalation "
            f"is {state.escalation_id}"
        )
    return (
        f"escalation {escalation_id} is not known: the issue's latest escalation is "
        f"{state.escalation_id}"
    )


class Query:
    def __init__(
        self,
        reader: IssueReader,
        client_timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.reader = reader
        self.client_timeout = client_timeout
        self.transport = transport

    def routes(self, http: HttpApp) -> None:
        http.route("GET", "/v1/escalations/{escalation_id}", self.one)
        http.route("GET", "/v1/escalations", self.by_customer)

    async def one(self, request: Request) -> Response:
        escalation_id = request.params["escalation_id"]
        try:
            ref = parse_escalation_id(escalation_id)
        except InvalidEscalationId as exc:
            raise Problem(404, "unknown-escalation", str(exc)) from exc
        forwarded = await self._elsewhere(ref.customer_id, request)
        if forwarded is not None:
            return forwarded
        key = issue_state_key(ref.customer_id, ref.issue_id)
        state = self.reader.state(key)
        if state is None or state.escalation_id != escalation_id:
            raise Problem(404, "unknown-escalation", absent(escalation_id, state, ref.sequence))
        found = view(state, self.reader.timeline(key), full=True)
        return Response(200, codec.encode(found))

    async def by_customer(self, request: Request) -> Response:
        customer_id = (parse_qs(request.query).get("customer_id") or [""])[0]
        if not customer_id:
            raise Problem(
                422,
                "schema-violation",
                "give the customer: /v1/escalations?customer_id=<id>",
                [{"loc": ["query", "customer_id"], "msg": "Field required"}],
            )
        forwarded = await self._elsewhere(customer_id, request)
        if forwarded is not None:
            return forwarded
        states = [self.reader.state(key) for key in self.reader.issue_keys(customer_id)]
        found = [view(s) for s in states if s is not None and s.escalation_id is not None]
        found.sort(key=lambda v: (v.opened_at is None, v.opened_at), reverse=True)
        listed = EscalationList(customer_id=customer_id, escalations=found)
        return Response(200, codec.encode(listed))

    async def _elsewhere(self, customer_id: str, request: Request) -> Response | None:
        """None when this worker answers; else the holder's answer, or 503."""
        why = self.reader.unsettled()
        if why is not None:
            raise _unavailable(why)
        try:
            holder = self.reader.holder_of(customer_id)
        except LookupError as exc:
            raise _unavailable(str(exc)) from exc
        if holder is None:
            return None
        if request.headers.get(FORWARDED):
            raise _unavailable("the worker holding this customer moved; ask again")
        return await forward(holder, request, self.client_timeout, self.transport)


async def forward(
    base: str,
    request: Request,
    client_timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Response:
    """The holder's answer, passed back as it is."""
    url = f"{base.rstrip('/')}{request.path}" + (f"?{request.query}" if request.query else "")
    try:
        async with httpx.AsyncClient(timeout=client_timeout, transport=transport) as client:
            answer = await client.get(url, headers={FORWARDED: "1"})
    except httpx.HTTPError as exc:
        log.warning("escalator.query_forward_failed", url=url, error=repr(exc))
        raise _unavailable(f"the worker holding this customer did not answer: {exc!r}") from exc
    content_type = answer.headers.get("content-type", "application/json")
    return Response(answer.status_code, answer.content, content_type)


def _unavailable(why: str) -> Problem:
    return Problem(503, "not-ready", why, headers={"retry-after": "1"})
