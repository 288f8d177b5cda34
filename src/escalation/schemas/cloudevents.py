"""CloudEvents 1.0 as an alternative envelope for contact events.

Upstream systems that already speak CloudEvents send a contact as one: structured JSON
over HTTP (``application/cloudevents+json``, or a batch as
``application/cloudevents-batch+json``) to intake, or in binary mode on ``contacts.v1``
(``ce_`` headers, the contact data as the record's value), read by the router. Both
become the same :class:`ContactEvent`, so nothing past the edge knows the envelope:

- ``specversion`` must be ``1.0``; ``type`` must be ``dev.escalation.contact.v1``;
- ``id`` -> ``event_id`` (the idempotency key), ``source`` -> ``source`` (a contact
  source id: at intake, the token's name), ``time`` -> ``occurred_at`` (required here,
  optional in CloudEvents);
- ``datacontenttype``: absent, ``application/json`` or a ``+json`` type;
- ``data``: every other field, a JSON object (``data_base64`` is refused);
- ``subject``, ``dataschema`` and extension attributes are ignored.

``data`` may repeat ``event_id``, ``occurred_at`` or ``source`` only with the envelope's
value. Errors name the envelope's field (``time``, ``data.customer.id``; in binary mode
the header, ``ce_time``, or the value's field).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .base import EventTime, Identifier
from .contact import ContactEvent

SPECVERSION = "1.0"
CONTACT_TYPE = "dev.escalation.contact.v1"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
HEADER_PREFIX = "ce_"
CONTENT_TYPE_HEADER = "content-type"
"""The Kafka binding carries ``datacontenttype`` in this header, not as ``ce_``."""
JsonMediaType = Annotated[
    str, StringConstraints(pattern=r"^application/([a-z0-9.+-]+\+)?json\s*(;.*)?$")
]
"""``datacontenttype``: JSON, the only data a contact has."""
MAPPED = {"id": "event_id", "time": "occurred_at", "source": "source"}
"""Envelope attribute -> contact field."""


class ContactData(ContactEvent):
    """A contact's fields inside a CloudEvent: the envelope gives id, time and source."""

    event_id: Identifier | None = None  # type: ignore[assignment]
    occurred_at: EventTime | None = None  # type: ignore[assignment]
    source: Annotated[Identifier, StringConstraints(max_length=64)] | None = None  # type: ignore[assignment]


class ContactCloudEvent(BaseModel):
    """A contact event in a CloudEvents 1.0 envelope (structured mode, JSON)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: Identifier = Field(description="-> event_id")
    source: Annotated[Identifier, StringConstraints(max_length=64)] = Field(
        description="-> source: the contact source (at intake, the token's name)"
    )
    type: Literal["dev.escalation.contact.v1"]
    time: EventTime = Field(description="-> occurred_at; required for a contact")
    datacontenttype: JsonMediaType | None = None
    dataschema: str | None = None
    subject: str | None = None
    data: ContactData = Field(description="the contact's other fields")

    @field_validator("data")
    @classmethod
    def _agrees_with_envelope(cls, data: ContactData, info: ValidationInfo) -> ContactData:
        for attribute, name in MAPPED.items():
            given, envelope = getattr(data, name), info.data.get(attribute)
            if given is not None and envelope is not None and given != envelope:
                raise ValueError(
                    f"{name} {_shown(given)} differs from the envelope's {attribute} "
                    f"{_shown(envelope)}; leave it out of data or make them equal"
                )
        return data

    @model_validator(mode="before")
    @classmethod
    def _no_base64(cls, envelope: Any) -> Any:
        if isinstance(envelope, dict) and "data_base64" in envelope:
            raise ValueError("data_base64 is not accepted: send the contact as JSON data")
        return envelope

    def to_contact(self) -> ContactEvent:
        fields = self.data.model_dump(exclude_unset=True)
        fields.update(event_id=self.id, occurred_at=self.time, source=self.source)
        return ContactEvent.model_validate(fields)


def _shown(value: Any) -> str:
    return repr(value.isoformat() if isinstance(value, datetime) else value)


def binary_attributes(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, Any] | None:
    """The envelope's attributes from a record's ``ce_`` headers; None when there are none.

    A header that is not UTF-8 becomes a value the model refuses, under its own name.
    """
    attributes: dict[str, Any] = {}
    for name, raw in headers or ():
        key = name.lower()
        if key.startswith(HEADER_PREFIX):
            target = key[len(HEADER_PREFIX) :]
        elif key == CONTENT_TYPE_HEADER:
            target = "datacontenttype"
        else:
            continue
        try:
            attributes[target] = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            attributes[target] = raw  # bytes: refused as "not a valid string"
    if "specversion" not in attributes:
        return None
    return attributes


def binary_loc(loc: list[Any]) -> list[Any]:
    """An error's place in a binary record: the header's name, or the value's field."""
    if not loc:
        return loc
    head, *rest = loc
    if head == "data":
        return rest or ["(value)"]
    if head == "datacontenttype":
        return [CONTENT_TYPE_HEADER, *rest]
    return [f"{HEADER_PREFIX}{head}", *rest]
