"""Operator commands on an escalation (``escalation.commands.v1``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Timestamp, WireModel

CommandAction = Literal["ack", "resolve"]


class CommandBody(WireModel):
    """The optional JSON body of ``POST /v1/escalations/{id}/ack|resolve``."""

    by: str | None = Field(default=None, min_length=1, max_length=128)
    note: str | None = Field(default=None, max_length=4096)
    eta: Timestamp | None = None


class EscalationCommand(WireModel):
    command_id: str = Field(min_length=1, max_length=128)
    action: CommandAction
    escalation_id: str
    customer_id: str
    at: Timestamp
    by: str | None = None
    note: str | None = None
    eta: Timestamp | None = None
