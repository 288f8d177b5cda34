"""Wire schemas: pydantic v2 models for every message, and the codec that parses them."""

from .codec import DecodeError, decode, decode_contacts, encode
from .command import CommandBody, EscalationCommand
from .contact import ContactEvent, Customer
from .escalation import EscalationEvent
from .identity import (
    SEEN_LIMIT,
    EscalationRef,
    InvalidEscalationId,
    customer_of,
    issue_state_key,
    make_escalation_id,
    parse_escalation_id,
)
from .page import PageCustomer, PageRequest, WebhookPage, page_id_for
from .routed import EscalationSettings, LadderStep, RoutedContact, Routing
from .tick import Tick

__all__ = [
    "SEEN_LIMIT",
    "CommandBody",
    "ContactEvent",
    "Customer",
    "DecodeError",
    "EscalationCommand",
    "EscalationEvent",
    "EscalationRef",
    "EscalationSettings",
    "InvalidEscalationId",
    "LadderStep",
    "PageCustomer",
    "PageRequest",
    "RoutedContact",
    "Routing",
    "Tick",
    "WebhookPage",
    "customer_of",
    "decode",
    "decode_contacts",
    "encode",
    "issue_state_key",
    "make_escalation_id",
    "page_id_for",
    "parse_escalation_id",
]
