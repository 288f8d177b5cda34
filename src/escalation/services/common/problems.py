"""RFC 9457 problem details: every HTTP error says what was wrong, where, and what to do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from escalation.schemas import codec

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://escalation.dev/problems/"
MAX_LISTED = codec.MAX_LISTED
"""Errors listed in one answer; ``error_count`` says how many there were in all."""

T = TypeVar("T")

TITLES = {
    400: "Malformed request",
    401: "Authentication required",
    403: "Not allowed for this token",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Schema violation",
    429: "Too many requests",
    503: "Service unavailable",
}


@dataclass
class Problem(Exception):
    status: int
    slug: str
    detail: str
    errors: list[dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_count: int | None = None
    """All the errors found, when ``errors`` lists only the first of them."""

    def body(self, instance: str | None = None) -> bytes:
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        if self.errors is not None:
            doc["error_count"] = max(self.error_count or 0, len(self.errors))
            doc["errors"] = self.errors[:MAX_LISTED]
        return codec.dumps(doc)


def decoded_body(decode: Callable[[bytes], T], body: bytes) -> T:
    """A request body through ``decode`` (a ``schemas.codec`` decoder), its failure as a
    problem: 400 when it is not JSON, 422 naming each field that is wrong."""
    try:
        return decode(body)
    except codec.DecodeError as exc:
        status = 400 if exc.kind == "malformed" else 422
        raise Problem(
            status,
            "malformed-json" if status == 400 else "schema-violation",
            exc.detail,
            exc.errors or None,
            error_count=exc.error_count,
        ) from exc
