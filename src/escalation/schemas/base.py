"""Shared model configuration and constrained types for every wire schema."""

from __future__ import annotations

from datetime import UTC, datetime, timezone
from functools import cache
from typing import Annotated, Any, NamedTuple, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
)


def _rfc3339_text(value: Any) -> Any:
    # JSON numbers would otherwise pass as Unix seconds; the contract says RFC 3339 text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be an RFC 3339 timestamp string with a UTC offset")
    return value


def _stdlib_offset(value: datetime) -> datetime:
    # pydantic's parsed offsets are its own tzinfo class, whose utcoffset() goes through
    # Python on every comparison and subtraction; the stdlib fixed-offset timezone is C.
    offset = value.utcoffset()
    if offset is None:
        return value
    if offset.seconds % 60 or offset.microseconds:
        # RFC 3339 offsets are whole minutes (a zone's local mean time before 1900 is
        # not): written as it is, the instant would come back seconds apart.
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("is out of range once in UTC") from exc
    if type(value.tzinfo) is timezone:
        return value
    return value.replace(tzinfo=UTC if not offset else timezone(offset))


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_stdlib_offset)]
"""An RFC 3339 date-time that carries its UTC offset (naive times are rejected)."""

EVENT_YEARS = (1970, 2999)


def _plausible(value: datetime) -> datetime:
    # Year 1 and 9999 are valid RFC 3339, but every window the services add to a
    # contact's time would overflow there: a schema error, not a crash downstream.
    year = value.year  # as written: converting year 1 or 9999 to UTC can itself overflow
    if not EVENT_YEARS[0] <= year <= EVENT_YEARS[1]:
        raise ValueError(f"must be in the years {EVENT_YEARS[0]} to {EVENT_YEARS[1]}")
    return value


EventTime = Annotated[Timestamp, AfterValidator(_plausible)]
"""A time a contact reports (when it happened, the customer's deadline)."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=False)]

CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
PRINTABLE = f"^[^{CONTROL_CHARACTERS}]*$"
"""No control characters: ids end up in log lines, terminals and receivers' headers,
where one forges a line or makes an id no one can type back."""
NO_NUL = r"^[^\x00]*$"
"""Free text may hold tabs and line breaks, but U+0000 is refused by many receivers' stores."""

PATTERN_MESSAGES = {
    f"String should match pattern '{PRINTABLE}'": "must not contain control characters "
    "(U+0000-U+001F, U+007F-U+009F, U+2028, U+2029)",
    f"String should match pattern '{NO_NUL}'": "must not contain U+0000",
}
"""Plain words for the patterns' errors (checked in Rust: a Python validator per field
costs more than the rest of decoding a contact)."""

Identifier = Annotated[Name, StringConstraints(pattern=PRINTABLE)]
"""A Name without control characters: event, customer and issue ids, sources, products."""

Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""Free text (summaries, attribute values): anything but U+0000."""

Category = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
    ),
]


class WireModel(BaseModel):
    """Base of every message on a topic: unknown fields are an error, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def trusted(cls: type[M], **values: Any) -> M:
    """Build ``cls`` from values validated elsewhere, with every field given.

    For the decisions' hot path: pydantic's ``model_construct`` also resolves aliases
    and fills defaults field by field, which measured a quarter of replay's time. A
    missing or unknown field is refused here rather than failing later.
    """
    fields = cls.__pydantic_fields__  # ``model_fields`` is a slower descriptor
    if values.keys() != fields.keys():
        missing = sorted(fields.keys() - values.keys())
        unknown = sorted(values.keys() - fields.keys())
        raise TypeError(f"{cls.__name__}: missing fields {missing}, unknown fields {unknown}")
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


class _Shape(NamedTuple):
    template: dict[str, Any]
    """Every field in declared order, at its default (the required ones at ``_REQUIRED``)."""
    required: frozenset[str]
    factories: tuple[tuple[str, Any], ...]
    names: set[str]


_REQUIRED = object()


@cache
def _shape(cls: type[BaseModel]) -> _Shape:
    fields = cls.__pydantic_fields__
    return _Shape(
        {n: _REQUIRED if f.is_required() else f.default for n, f in fields.items()},
        frozenset(n for n, f in fields.items() if f.is_required()),
        tuple((n, f.default_factory) for n, f in fields.items() if f.default_factory),
        set(fields),
    )


def built(cls: type[M], **values: Any) -> M:
    """``trusted`` with the fields left out at their defaults.

    For records the decisions make from values already validated (a state, a policy, an
    input's time as UTC): validating them again cost a third of the escalator's CPU per
    input. The values must be what validation would keep (stdlib time zones, bounded
    lists); tests/unit/schemas/test_built.py compares the two. The fields are kept in
    their declared order, as validation keeps them: the JSON is written in that order.
    """
    shape = _shape(cls)
    ordered = shape.template.copy()
    ordered.update(values)
    if len(ordered) != len(shape.template) or not shape.required <= values.keys():
        missing = sorted(shape.required - values.keys())
        unknown = sorted(values.keys() - shape.template.keys())
        raise TypeError(f"{cls.__name__}: missing fields {missing}, unknown fields {unknown}")
    for name, factory in shape.factories:
        if name not in values:
            ordered[name] = factory()
    model = cls.__new__(cls)
    _set(model, "__dict__", ordered)
    _set(model, "__pydantic_fields_set__", shape.names.copy())
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def copied(model: M, update: dict[str, Any]) -> M:
    """``model.model_copy(update=update)`` without its deep machinery: a new model with the
    same values but ``update``'s (not validated, as ``model_copy`` does not validate)."""
    made = model.__class__.__new__(model.__class__)
    _set(made, "__dict__", {**model.__dict__, **update})
    _set(made, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    _set(made, "__pydantic_extra__", model.__pydantic_extra__)
    _set(made, "__pydantic_private__", model.__pydantic_private__)
    return made
