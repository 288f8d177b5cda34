"""Wire schemas: pydantic v2 models for every message, and the codec that parses them."""

from .codec import DecodeError, decode, decode_contacts, encode
from .command import CommandBody, EscalationCommand
from .contact import ContactEvent, Customer
from .escalation import EscalationEvent, customer_of, make_escalation_id
from .page import PageRequest, page_id_for
from .routed import EscalationSettings, RoutedContact, Routing

__all__ = [
    "CommandBody",
    "ContactEvent",
    "Customer",
    "DecodeError",
    "EscalationCommand",
    "EscalationEvent",
    "EscalationSettings",
    "PageRequest",
    "RoutedContact",
    "Routing",
    "customer_of",
    "decode",
    "decode_contacts",
    "encode",
    "make_escalation_id",
    "page_id_for",
]
