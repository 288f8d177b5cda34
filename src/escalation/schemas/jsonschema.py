"""Generate the checked-in JSON Schema files from the models.

Run ``escalation schemas export`` after changing a model; a unit test fails on drift.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from .command import CommandBody, EscalationCommand
from .contact import ContactEvent
from .escalation import EscalationEvent
from .page import PageRequest, WebhookPage
from .routed import RoutedContact
from .silence import SilenceBody, SilenceRecord
from .surge import Control, ProductReport, SurgeEvent
from .tick import Tick
from .timeline import EscalationList, EscalationView

SCHEMA_DIR = Path(__file__).parent / "json"

EXPORTED: dict[str, type[BaseModel]] = {
    "contact.v1": ContactEvent,
    "contact.routed.v1": RoutedContact,
    "escalation.v1": EscalationEvent,
    "page.v1": PageRequest,
    "webhook-page.v1": WebhookPage,
    "command.v1": EscalationCommand,
    "command-body.v1": CommandBody,
    "tick.v1": Tick,
    "escalation-view.v1": EscalationView,
    "escalation-list.v1": EscalationList,
    "silence.v1": SilenceRecord,
    "silence-body.v1": SilenceBody,
    "product-report.v1": ProductReport,
    "surge.v1": SurgeEvent,
    "control.v1": Control,
}


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = directory / f"{name}.schema.json"
        path.write_text(render(model))
        written.append(path)
    return written
