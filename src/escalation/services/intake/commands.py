"""Commands on an escalation (ack, resolve, reopen, reassign), and who may give them.

Two credentials act on an escalation: a bearer token with the ``escalations`` scope, or
a page's signed ack or resolve link. Either way the command records the authenticated
principal as ``by`` (``token:<name>`` or ``link:<target>``), never a name the caller
merely states: a body's ``by`` is kept as a claim in the note. Only with no tokens
configured (a loopback-only development intake) is the body's ``by`` recorded as is.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from escalation.schemas import EscalationCommand, codec
from escalation.schemas.identity import InvalidEscalationId, customer_of
from escalation.services.common.links import LinkClaim
from escalation.services.common.problems import Problem, decoded_body
from escalation.services.common.topics import COMMANDS

from . import pages
from .auth import TokenAuth
from .linked import LinkGate, form_token, query_token
from .writer import Record, Writer


def customer_or_404(escalation_id: str) -> str:
    try:
        return customer_of(escalation_id)
    except InvalidEscalationId as exc:
        raise Problem(404, "unknown-escalation", str(exc)) from exc


def with_claim(note: str | None, claimed_by: str | None) -> str | None:
    """The note, led by whom the caller says it acts for: recorded, not trusted."""
    if claimed_by is None:
        return note
    return f"on behalf of {claimed_by}" + (f": {note}" if note else "")


class Commands:
    """Authorises a command, then writes it to ``escalation.commands.v1``."""

    def __init__(
        self,
        auth: TokenAuth,
        gate: LinkGate,
        writer: Writer,
        clock: Callable[[], datetime],
        require_json: Callable[[Mapping[str, str]], None],
    ) -> None:
        self.auth = auth
        self.gate = gate
        self.writer = writer
        self.clock = clock
        self.require_json = require_json

    async def by_token(
        self, escalation_id: str, action: str, headers: Mapping[str, str], body: bytes
    ) -> EscalationCommand:
        """A command from the API: bearer token with the escalations scope, JSON body."""
        principal = self.auth.authorize(headers.get("authorization"), "escalations")
        if body.strip():
            self.require_json(headers)
        customer_id = customer_or_404(escalation_id)
        parsed = decoded_body(codec.decode_command_body, body)
        if principal is None:  # open development intake: nothing to check the claim against
            by, note = parsed.by, parsed.note
        else:
            by, note = principal.by, with_claim(parsed.note, parsed.by)
        return await self._write(
            action,
            escalation_id,
            customer_id,
            by=by,
            note=note,
            eta=parsed.eta,
            cause=parsed.cause,
            to=parsed.to,
        )

    async def by_link(
        self, escalation_id: str, action: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[LinkClaim, EscalationCommand]:
        """A command from a link's confirm page: the form's token is the credential."""
        customer_id = customer_or_404(escalation_id)
        self.gate.same_origin(headers)
        claim = self.gate.claim(escalation_id, action, form_token(body), self.now())
        command = await self._write(action, escalation_id, customer_id, by=claim.principal)
        return claim, command

    def confirm_page(self, escalation_id: str, action: str, query: str) -> bytes:
        """The page a link opens; a GET changes nothing, whatever fetches it."""
        customer_id = customer_or_404(escalation_id)
        token = query_token(query)
        claim = self.gate.claim(escalation_id, action, token, self.now())
        assert token is not None  # claim() refuses a missing token
        return pages.confirm(claim, customer_id, token)

    def now(self) -> int:
        return int(self.clock().timestamp())

    async def _write(
        self, action: str, escalation_id: str, customer_id: str, **fields: Any
    ) -> EscalationCommand:
        command = EscalationCommand(
            command_id=f"cmd_{secrets.token_hex(12)}",
            action=action,
            escalation_id=escalation_id,
            customer_id=customer_id,
            at=self.clock(),
            **fields,
        )
        record = Record(COMMANDS, customer_id.encode(), codec.encode(command), command.command_id)
        await self.writer.write([record])
        return command
