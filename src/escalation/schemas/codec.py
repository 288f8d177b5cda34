"""The one place bytes become models and models become bytes."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from .command import CommandBody, EscalationCommand
from .contact import ContactEvent
from .escalation import EscalationEvent
from .page import PageRequest
from .routed import RoutedContact
from .state import Assignment, IssueState

M = TypeVar("M", bound=BaseModel)


class DecodeError(ValueError):
    """Bytes that are not a valid message: ``kind`` is ``malformed`` or ``invalid``.

    ``errors`` lists ``{"loc": [...], "msg": ...}`` for every schema violation.
    """

    def __init__(self, kind: str, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = errors or []


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(err["loc"]), "msg": err["msg"]} for err in exc.errors(include_url=False)]


def _raise_decode_error(exc: ValidationError) -> None:
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        raise DecodeError("malformed", f"malformed JSON: {errors[0]['msg']}") from exc
    problems = _problems(exc)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    raise DecodeError(
        "invalid",
        f"{len(problems)} schema violation(s); first at {where}: {first['msg']}",
        problems,
    ) from exc


@cache
def _adapter(model: type[Any]) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def decode(model: type[M], data: bytes | bytearray | memoryview | str) -> M:
    """Parse and validate one JSON value as ``model``; raise DecodeError when it is not."""
    try:
        return _adapter(model).validate_json(data)
    except ValidationError as exc:
        _raise_decode_error(exc)
        raise  # unreachable: keeps type checkers content


def decode_contacts(data: bytes) -> list[ContactEvent]:
    """Intake body: one contact event or a JSON array of them."""
    stripped = data.lstrip()
    model: type[Any] = list[ContactEvent] if stripped[:1] == b"[" else ContactEvent
    try:
        parsed = _adapter(model).validate_json(data)
    except ValidationError as exc:
        _raise_decode_error(exc)
        raise
    return parsed if isinstance(parsed, list) else [parsed]


def encode(message: BaseModel) -> bytes:
    """Serialize a model as compact JSON; absent optional fields are left out."""
    return message.model_dump_json(exclude_none=True).encode()


def encode_http_body(message: BaseModel) -> bytes:
    """Serialize a model sent over HTTP (a webhook page) with every field, nulls included.

    Unlike topic records, an HTTP body keeps its null fields so receivers can read them
    without checking for the key; orjson writes a UTC time as ``+00:00``, as receivers
    have always been sent.
    """
    return orjson.dumps(message.model_dump())


def dumps(value: Any) -> bytes:
    """Serialize plain data (HTTP bodies, logs) as JSON."""
    return orjson.dumps(value)


def loads_plain(data: bytes | str) -> Any:
    """Parse plain JSON with no schema (for tools and tests, never for topic input)."""
    return orjson.loads(data)


def decode_contact(data: bytes) -> ContactEvent:
    return decode(ContactEvent, data)


def decode_routed(data: bytes) -> RoutedContact:
    return decode(RoutedContact, data)


def decode_escalation(data: bytes) -> EscalationEvent:
    return decode(EscalationEvent, data)


def decode_page(data: bytes) -> PageRequest:
    return decode(PageRequest, data)


def decode_command(data: bytes) -> EscalationCommand:
    return decode(EscalationCommand, data)


def decode_command_body(data: bytes) -> CommandBody:
    return decode(CommandBody, data) if data.strip() else CommandBody()


def decode_state(data: bytes) -> IssueState:
    return decode(IssueState, data)


def decode_assignment(data: bytes) -> Assignment:
    return decode(Assignment, data)
