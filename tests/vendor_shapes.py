"""The receivers' documented shapes, written down from their documentation, for tests.

- PagerDuty Events API v2, "Send an Alert Event" / "Acknowledge and Resolve": the
  enqueue body (routing_key of 32 characters, event_action, dedup_key up to 255, and for
  a trigger a payload with summary up to 1,024, source, severity of four values,
  optional timestamp, component, group, class, custom_details; links of href and text).
- Slack incoming webhooks with Block Kit: ``text`` plus at most 50 blocks; header
  (plain_text up to 150), section (text up to 3,000 or fields, at most 10, each up to
  2,000), context (1 to 10 text elements), actions (1 to 25 buttons; a button's text
  up to 75, url up to 3,000, action_id up to 255, style primary or danger).

Unknown fields are refused, so a payload that drifts from the documented shape fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PagerDutyLink(Strict):
    href: str = Field(min_length=1)
    text: str | None = None


class PagerDutyPayload(Strict):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: dict[str, Any] | None = None


class PagerDutyEvent(Strict):
    routing_key: str = Field(min_length=32, max_length=32)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: PagerDutyPayload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[PagerDutyLink] | None = None
    images: list[dict[str, str]] | None = None

    @model_validator(mode="after")
    def _required(self) -> PagerDutyEvent:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("a trigger needs a payload")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError("acknowledge and resolve need the dedup_key of the alert")
        return self


class PlainText(Strict):
    type: Literal["plain_text"]
    text: str = Field(min_length=1)
    emoji: bool | None = None


class Mrkdwn(Strict):
    type: Literal["mrkdwn"]
    text: str = Field(min_length=1)
    verbatim: bool | None = None


TextObject = Annotated[PlainText | Mrkdwn, Field(discriminator="type")]


class Header(Strict):
    type: Literal["header"]
    text: PlainText

    @model_validator(mode="after")
    def _length(self) -> Header:
        assert len(self.text.text) <= 150
        return self


class Section(Strict):
    type: Literal["section"]
    text: TextObject | None = None
    fields: list[TextObject] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _some(self) -> Section:
        if self.text is None and not self.fields:
            raise ValueError("a section needs text or fields")
        assert self.text is None or len(self.text.text) <= 3000
        assert all(len(f.text) <= 2000 for f in self.fields or [])
        return self


class Context(Strict):
    type: Literal["context"]
    elements: list[TextObject] = Field(min_length=1, max_length=10)


class Button(Strict):
    type: Literal["button"]
    text: PlainText
    url: str | None = Field(default=None, max_length=3000)
    action_id: str | None = Field(default=None, max_length=255)
    value: str | None = Field(default=None, max_length=2000)
    style: Literal["primary", "danger"] | None = None


class Actions(Strict):
    type: Literal["actions"]
    elements: list[Button] = Field(min_length=1, max_length=25)


class Divider(Strict):
    type: Literal["divider"]


Block = Annotated[Header | Section | Context | Actions | Divider, Field(discriminator="type")]


class SlackMessage(Strict):
    text: str = Field(min_length=1)
    blocks: list[Block] = Field(max_length=50)
