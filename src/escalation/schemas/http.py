"""The HTTP answers that are not messages: acceptances, health and problem documents.

The services write these bodies as plain JSON; the models exist so that the OpenAPI
documents describe them from one definition, and tests hold the answers to them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .command import CommandAction


class HttpModel(BaseModel):
    """An answer's shape: fields may be added within v1, so readers stay lenient."""

    model_config = ConfigDict(frozen=True)


class ContactsAccepted(HttpModel):
    """``202`` to ``POST /v1/contacts``: every event durably written or already known."""

    accepted: list[str] = Field(description="event ids written by this request, in order")
    duplicates: list[str] = Field(
        description="event ids not written: already acknowledged, or repeated in the request"
    )


class CommandAccepted(HttpModel):
    """``202`` to a command: it is on ``escalation.commands.v1``."""

    command_id: str = Field(pattern=r"^cmd_[0-9a-f]{24}$")
    escalation_id: str
    action: CommandAction


class Health(HttpModel):
    """``/healthz``: the process runs (liveness); the stream services add their name."""

    status: Literal["ok"]
    service: str | None = None


class Readiness(HttpModel):
    """``/readyz``: ready, or why not."""

    status: Literal["ready", "not ready"]
    problems: list[str] = Field(description="why the service is not ready; empty when ready")


class ProblemError(HttpModel):
    """One violation: where in the body (field names, a batch's index first) and what."""

    loc: list[str | int]
    msg: str


class Problem(HttpModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str = Field(description="https://escalation.dev/problems/<slug>: the kind of problem")
    title: str = Field(description="fixed per status")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what was wrong and what to do")
    instance: str | None = Field(default=None, description="the request path")
    errors: list[ProblemError] | None = Field(
        default=None, description="the first 100 violations", max_length=100
    )
    error_count: int | None = Field(default=None, ge=0, description="all the violations found")


HTTP_MODELS: list[type[BaseModel]] = [
    ContactsAccepted,
    CommandAccepted,
    Health,
    Readiness,
    Problem,
]
