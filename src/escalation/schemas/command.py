"""Operator commands on an escalation (``escalation.commands.v1``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .base import Name, Timestamp, WireModel
from .escalation import ResolveCause
from .identity import parse_escalation_id

CommandAction = Literal["ack", "resolve", "reopen", "reassign"]


def _well_formed(escalation_id: str) -> str:
    parse_escalation_id(escalation_id)  # InvalidEscalationId is a ValueError: a schema error
    return escalation_id


EscalationId = Annotated[str, AfterValidator(_well_formed)]


class CommandBody(WireModel):
    """The optional JSON body of ``POST /v1/escalations/{id}/<action>``."""

    by: str | None = Field(default=None, min_length=1, max_length=128)
    note: str | None = Field(default=None, max_length=4096)
    eta: Timestamp | None = Field(
        default=None, description="ack: resolved by then, or it escalates one level"
    )
    cause: ResolveCause | None = Field(default=None, description="resolve: why it happened")
    to: Name | None = Field(default=None, description="reassign: the new owner's id")


class EscalationCommand(WireModel):
    command_id: str = Field(min_length=1, max_length=128)
    action: CommandAction
    escalation_id: EscalationId
    customer_id: str
    at: Timestamp
    by: str | None = None
    note: str | None = None
    eta: Timestamp | None = None
    cause: ResolveCause | None = None
    to: Name | None = None
