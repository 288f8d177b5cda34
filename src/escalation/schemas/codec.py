"""The one place bytes become models and models become bytes."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, TypeVar

import orjson
import pydantic_core
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from .base import PATTERN_MESSAGES
from .cloudevents import ContactCloudEvent, binary_attributes, binary_loc
from .command import CommandBody, EscalationCommand
from .contact import ContactEvent
from .escalation import EscalationEvent
from .fields_first import fields_first
from .page import PageRequest
from .routed import RoutedContact
from .silence import SilenceBody, SilenceRecord
from .state import Assignment, IssueState
from .surge import Control, ProductSignal, SurgeEvent
from .surge_state import ProductState
from .tick import Tick
from .timeline import Timeline

M = TypeVar("M", bound=BaseModel)

MAX_LISTED = 100
"""Schema violations listed per message; ``error_count`` says how many there were."""


class DecodeError(ValueError):
    """Bytes that are not a valid message: ``kind`` is ``malformed``, ``invalid`` or
    ``too_many`` (a batch over its length limit).

    ``errors`` lists ``{"loc": [...], "msg": ...}`` for the first ``MAX_LISTED`` schema
    violations; ``error_count`` counts them all.
    """

    def __init__(
        self,
        kind: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        error_count: int | None = None,
    ):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = errors or []
        self.error_count = len(self.errors) if error_count is None else error_count


def _listed(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    # Without inputs or contexts: turning every error's input back into Python objects
    # is most of the cost of a large error list.
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return [
        {"loc": [*prefix, *err["loc"]], "msg": PATTERN_MESSAGES.get(err["msg"], err["msg"])}
        for err in errors
    ]


def _raise_decode_error(exc: ValidationError, listed: list[dict[str, Any]] | None = None) -> None:
    count = exc.error_count()
    if count == 1:
        only = exc.errors(include_url=False, include_input=False)[0]
        if only["type"] == "json_invalid":
            raise DecodeError("malformed", f"malformed JSON: {only['msg']}") from exc
    errors = listed or _listed(exc)[:MAX_LISTED]
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    raise DecodeError(
        "invalid",
        f"{count} schema violation(s); first at {where}: {first['msg']}",
        errors,
        count,
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


@cache
def _batch_adapter(max_batch: int | None) -> TypeAdapter[list[ContactEvent]]:
    return TypeAdapter(Annotated[list[ContactEvent], Field(max_length=max_batch)])


def is_batch(data: bytes) -> bool:
    """Whether an intake body is a JSON array (errors then carry the item's index)."""
    return data.lstrip()[:1] == b"["


def decode_contacts(data: bytes, max_batch: int | None = None) -> list[ContactEvent]:
    """Intake body: one contact event or a JSON array of at most ``max_batch`` of them.

    The array's length is checked before any item is validated (kind ``too_many``), and
    the errors listed are found without turning every error of a large bad body into
    Python objects: a body of 30,000 bad items costs milliseconds, not seconds.
    """
    batch = is_batch(data)
    adapter: TypeAdapter[Any] = _batch_adapter(max_batch) if batch else _adapter(ContactEvent)
    try:
        parsed = adapter.validate_json(data)
    except ValidationError as exc:
        if batch and exc.error_count() == 1:
            only = exc.errors(include_url=False, include_input=False)[0]
            if only["type"] == "too_long" and not only["loc"]:
                length = only.get("ctx", {}).get("actual_length", "more")
                raise DecodeError(
                    "too_many", f"batch has {length} events; the limit is {max_batch}"
                ) from exc
        listed = _first_item_errors(data) if batch and exc.error_count() > MAX_LISTED else None
        _raise_decode_error(exc, listed)
        raise
    return parsed if batch else [parsed]


def _first_item_errors(data: bytes) -> list[dict[str, Any]]:
    """The first ``MAX_LISTED`` errors of a batch, validating item by item until found."""
    found: list[dict[str, Any]] = []
    single = _adapter(ContactEvent)
    try:
        items = pydantic_core.from_json(data)
    except ValueError:
        return found  # the caller lists the whole-batch errors instead
    for index, item in enumerate(items):
        try:
            single.validate_python(item)
        except ValidationError as exc:
            found += _listed(exc, (index,))[: MAX_LISTED - len(found)]
            if len(found) >= MAX_LISTED:
                break
    return found


def encode(message: BaseModel) -> bytes:
    """Serialize a model as compact JSON; absent optional fields are left out.

    The model's serializer is called directly: the bytes ``model_dump_json`` would make,
    without its wrapper and the text it decodes them into (a state is written for every
    input the escalator decides)."""
    return message.__pydantic_serializer__.to_json(message, exclude_none=True)


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


_routed_fields = fields_first(RoutedContact)


def decode_routed(data: bytes) -> RoutedContact:
    """Every reader of the routed topic decodes each contact: the fields straight from
    JSON first (``fields_first.py``); anything refused is decoded again by the model,
    whose errors are the ones reported."""
    try:
        return _routed_fields(data)
    except ValidationError:
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


def decode_tick(data: bytes) -> Tick:
    return decode(Tick, data)


def decode_timeline(data: bytes) -> Timeline:
    return decode(Timeline, data)


def decode_assignment(data: bytes) -> Assignment:
    return decode(Assignment, data)


# -- CloudEvents (schemas/cloudevents.py has the mapping) ---------------------------------


@cache
def _cloudevent_batch_adapter(max_batch: int | None) -> TypeAdapter[list[ContactCloudEvent]]:
    return TypeAdapter(Annotated[list[ContactCloudEvent], Field(max_length=max_batch)])


def decode_cloudevents(
    data: bytes, batch: bool, max_batch: int | None = None
) -> list[ContactEvent]:
    """Intake body in CloudEvents structured mode: one event, or a batch (a JSON array)."""
    adapter: TypeAdapter[Any] = (
        _cloudevent_batch_adapter(max_batch) if batch else _adapter(ContactCloudEvent)
    )
    try:
        parsed = adapter.validate_json(data)
    except ValidationError as exc:
        if batch and exc.error_count() == 1:
            only = exc.errors(include_url=False, include_input=False)[0]
            if only["type"] == "too_long" and not only["loc"]:
                raise DecodeError("too_many", f"batch is over the limit of {max_batch}") from exc
        _raise_decode_error(exc)
        raise
    return [envelope.to_contact() for envelope in (parsed if batch else [parsed])]


def decode_contact_record(
    value: bytes, headers: Iterable[tuple[str, bytes]] | None = None
) -> ContactEvent:
    """A ``contacts.v1`` record: a contact event, or CloudEvents binary mode (``ce_``
    headers, the contact data as the value); errors name the header or the field."""
    attributes = binary_attributes(headers)
    if attributes is None:
        return decode_contact(value)
    try:
        data = pydantic_core.from_json(value)
    except ValueError as exc:
        raise DecodeError("malformed", f"malformed JSON: {exc}") from exc
    try:
        envelope = _adapter(ContactCloudEvent).validate_python({**attributes, "data": data})
    except ValidationError as exc:
        listed = [{**e, "loc": binary_loc(e["loc"])} for e in _listed(exc)[:MAX_LISTED]]
        _raise_decode_error(exc, listed)
        raise
    return envelope.to_contact()


def decode_silence_body(data: bytes) -> SilenceBody:
    return decode(SilenceBody, data)


def decode_silence_record(data: bytes) -> SilenceRecord:
    return decode(SilenceRecord, data)


def decode_product_signal(data: bytes) -> ProductSignal:
    return decode(ProductSignal, data)  # type: ignore[arg-type]


def decode_product_state(data: bytes) -> ProductState:
    return decode(ProductState, data)


def decode_surge(data: bytes) -> SurgeEvent:
    return decode(SurgeEvent, data)


def decode_control(data: bytes) -> Control:
    return decode(Control, data)
