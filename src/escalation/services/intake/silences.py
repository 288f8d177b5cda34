"""The silences API: create, list and expire silences (``escalation.controls.v1``).

Like commands on escalations, silences need a bearer token with the ``escalations``
scope, and record the authenticated principal (``token:<name>``) as ``created_by``: a
body's ``created_by`` is a claim, kept in the comment. Each write is one record keyed by
the silence id, so a silence's records stay in order on one partition; the latest is
its state. Bad input is answered with a problem document that says what and where.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import parse_qs

from escalation.schemas import codec
from escalation.schemas.silence import Silence, SilenceRecord
from escalation.services.common.problems import Problem, decoded_body
from escalation.services.common.topics import CONTROLS

from .auth import TokenAuth
from .silence_view import SilenceView
from .writer import Record, Writer

SCOPE = "escalations"
MAX_LENGTH = 366 * 86400
"""The longest a silence made through the API may last: a year (a forgotten silence
would hide pages for good); the policy file can hold longer ones, in review."""


def _claimed(comment: str | None, claimed_by: str | None) -> str | None:
    if claimed_by is None:
        return comment
    return f"on behalf of {claimed_by}" + (f": {comment}" if comment else "")


class Silences:
    def __init__(
        self,
        auth: TokenAuth,
        writer: Writer,
        view: SilenceView,
        clock: Callable[[], datetime],
        require_json: Callable[[Mapping[str, str]], None],
    ) -> None:
        self.auth = auth
        self.writer = writer
        self.view = view
        self.clock = clock
        self.require_json = require_json

    async def create(self, headers: Mapping[str, str], body: bytes) -> SilenceRecord:
        principal = self.auth.authorize(headers.get("authorization"), SCOPE)
        self.require_json(headers)
        parsed = decoded_body(codec.decode_silence_body, body)
        now = self.clock()
        starts = parsed.starts_at or now
        problems = []
        if parsed.ends_at <= now:
            problems.append({"loc": ["ends_at"], "msg": "is in the past: nothing to silence"})
        if parsed.ends_at <= starts:
            problems.append({"loc": ["ends_at"], "msg": "must be after starts_at"})
        if (parsed.ends_at - starts).total_seconds() > MAX_LENGTH:
            problems.append({"loc": ["ends_at"], "msg": "at most 366 days after starts_at"})
        if problems:
            first = problems[0]
            raise Problem(422, "schema-violation", f"ends_at {first['msg']}", problems)
        if principal is None:
            by, comment = parsed.created_by, parsed.comment
        else:
            by, comment = principal.by, _claimed(parsed.comment, parsed.created_by)
        silence = Silence(
            id=f"sil_{secrets.token_hex(12)}",
            matchers=parsed.matchers,
            starts_at=starts,
            ends_at=parsed.ends_at,
            mode=parsed.mode,
            created_by=by,
            comment=comment,
            created_at=now,
        )
        record = SilenceRecord(id=silence.id, active=True, at=now, silence=silence)
        await self._write(record)
        return record

    def list(self, headers: Mapping[str, str], query: str) -> list[SilenceRecord]:
        """Silences in force or to come; ``?expired=true`` adds those that have ended."""
        self.auth.authorize(headers.get("authorization"), SCOPE)
        self._require_ready()
        flags = parse_qs(query).get("expired", ["false"])
        return self.view.listed(self.clock(), flags[-1].lower() in ("1", "true", "yes"))

    async def expire(self, silence_id: str, headers: Mapping[str, str]) -> SilenceRecord:
        principal = self.auth.authorize(headers.get("authorization"), SCOPE)
        known = self.view.get(silence_id)
        if known is None:
            self._require_ready()
            raise Problem(404, "unknown-silence", f"no silence {silence_id!r}")
        now = self.clock()
        if not known.active or known.silence.ends_at <= now:
            return known  # already over: expiring it again changes nothing
        ended = known.silence.model_copy(update={"ends_at": max(now, known.silence.starts_at)})
        record = SilenceRecord(
            id=silence_id,
            active=False,
            at=now,
            silence=ended,
            expired_by=principal.by if principal is not None else None,
        )
        await self._write(record)
        return record

    def _require_ready(self) -> None:
        if not self.view.ready:
            raise self.writer.unavailable("intake is still reading the silences; retry shortly")

    async def _write(self, record: SilenceRecord) -> None:
        value = codec.encode(record)
        ident = f"{record.id}:{'created' if record.active else 'expired'}"
        await self.writer.write([Record(CONTROLS, record.id.encode(), value, ident)])
        self.view.apply(record)
