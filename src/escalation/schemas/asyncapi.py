"""The AsyncAPI 3.0 document of every topic, generated from the models and the catalogue.

``escalation schemas export`` writes it to docs/asyncapi.json; a unit test regenerates it
and fails on drift, and validates it against the AsyncAPI 3.0.0 JSON Schema. Upstream
teams generate producers from it (contacts.v1: a contact event, or a CloudEvent in
binary mode) and consumers of what the services write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from escalation import __version__
from escalation.services.common import topics as t

from .cloudevents import CONTACT_TYPE, ContactData
from .command import EscalationCommand
from .contact import ContactEvent
from .escalation import EscalationEvent
from .page import PageRequest
from .records import CHANGELOG_KEYS, DLQ_HEADERS, EXAMPLES, binary_headers, event_id_header
from .routed import RoutedContact
from .surge import Control, ProductReport, ProductTick, SurgeEvent
from .tick import Tick

ASYNCAPI_PATH = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
REF = "#/components/schemas/{model}"
KAFKA_BINDING = "0.5.0"
PARTITIONS = 4
"""The default ``ESCALATION_KAFKA_PARTITIONS``: every topic has the same count."""
REPLICAS = 3


@dataclass(frozen=True)
class Topic:
    name: str
    message: str
    model: type[BaseModel]
    event_id: str
    writers: tuple[str, ...]
    readers: tuple[str, ...]
    summary: str
    key: str | None = None
    """What the key holds, when it is not the customer id."""
    also: tuple[tuple[str, type[BaseModel]], ...] = ()
    """Further messages the channel carries (name, model)."""
    compacted: bool = False
    dead_letters: bool = True


DATA_TOPICS = [
    Topic(t.CONTACTS, "Contact", ContactEvent, "the event_id", ("intake", "upstream"),
          ("router",), "Customer contacts, as upstream systems report them"),
    Topic(t.ROUTED, "RoutedContact", RoutedContact, "the event_id", ("router",),
          ("escalator",), "Each contact with its owner, team, authority and reasons"),
    Topic(t.COMMANDS, "EscalationCommand", EscalationCommand, "the command_id", ("intake",),
          ("escalator",), "Ack, resolve, reopen and reassign, as given at intake"),
    Topic(t.ESCALATIONS, "EscalationEvent", EscalationEvent,
          "<escalation_id>:<type>:<cause_id>", ("escalator", "pager"), ("router",),
          "What happened to each escalation, from opened to resolved"),
    Topic(t.PAGES, "PageRequest", PageRequest, "the page_id", ("escalator",), ("pager",),
          "Pages to deliver to the route's targets"),
    Topic(t.TICKS, "Tick", Tick, "tick:<customer_id>/<issue_id>:<version>", ("escalator",),
          ("escalator",), "The escalator's timers, due on the issue's partition (internal)"),
    Topic(t.BY_PRODUCT, "ProductReport", ProductReport, "the event_id (reports)", ("surge",),
          ("surge",), "Routed contacts repartitioned by what a surge rule counts, and the "
          "surge service's close ticks (internal)", key="<rule>/<product or category>",
          also=(("ProductTick", ProductTick),)),
    Topic(t.SURGES, "SurgeEvent", SurgeEvent, "the cause_id", ("surge",), ("escalator",),
          "Surges opened, updated and closed: each one escalation of its own",
          key="the surge's own customer_id (surge:<rule>:<value>)"),
    Topic(t.CONTROLS, "Control", Control, "<id>:<active> (surges), <id>:created or "
          "<id>:expired (silences)", ("surge", "intake"), ("escalator", "intake"),
          "Open surges and silences, read whole by every worker outside any group",
          key="the surge's or the silence's id", compacted=True, dead_letters=False),
]  # fmt: skip


def channel_id(topic: str) -> str:
    words = topic.replace("-", ".").split(".")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _schemas() -> dict[str, Any]:
    models = [topic.model for topic in DATA_TOPICS] + [ContactData]
    models += [model for topic in DATA_TOPICS for _, model in topic.also]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    return defs["$defs"]


def _kafka_channel(name: str, compacted: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": ["compact" if compacted else "delete"]}
    if not compacted:
        config["min.insync.replicas"] = 2
    return {
        "kafka": {
            "topic": name,
            "partitions": PARTITIONS,
            "replicas": REPLICAS,
            "topicConfiguration": config,
            "bindingVersion": KAFKA_BINDING,
        }
    }


def _message(
    topic: Topic, name: str | None = None, model: type[BaseModel] | None = None
) -> dict[str, Any]:
    headers = event_id_header(topic.event_id)
    if topic.name == t.ESCALATIONS:
        headers["properties"]["page-outcome"] = {
            "type": "string",
            "description": "the pager's own records: paged, page.delivered or page.failed",
        }
    name, model = name or topic.message, model or topic.model
    key = _customer_key() if topic.key is None else {"type": "string", "description": topic.key}
    message: dict[str, Any] = {
        "name": name,
        "title": topic.summary,
        "contentType": "application/json",
        "payload": {"$ref": REF.format(model=model.__name__)},
        "headers": headers,
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}},
    }
    if name in EXAMPLES:
        message["examples"] = [EXAMPLES[name]]
    return message


def _customer_key() -> dict[str, Any]:
    return {
        "type": "string",
        "description": "the customer id (UTF-8): every topic is co-partitioned by customer "
        "(murmur2 of the key, as the Java client and aiokafka partition)",
    }


def _binary_contact() -> dict[str, Any]:
    return {
        "name": "ContactCloudEvent",
        "title": "A contact as a CloudEvent in binary mode: ce_ headers, the data as value",
        "contentType": "application/json",
        "payload": {"$ref": REF.format(model=ContactData.__name__)},
        "headers": binary_headers(CONTACT_TYPE),
        "bindings": {"kafka": {"key": _customer_key(), "bindingVersion": KAFKA_BINDING}},
        "examples": [EXAMPLES["ContactCloudEvent"]],
    }


def _dead_letter(topic: Topic) -> dict[str, Any]:
    return {
        "name": f"{topic.message}DeadLetter",
        "title": f"A {t.dlq_of(topic.name)} record: the original, and why",
        "contentType": "application/json",
        "payload": {
            "description": f"the {topic.name} value as it was read: usually a "
            f"{topic.message}, but a decode or schema dead letter may not be one"
        },
        "headers": DLQ_HEADERS,
        "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": KAFKA_BINDING}},
    }


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in DATA_TOPICS:
        cid, dlq = channel_id(topic.name), channel_id(t.dlq_of(topic.name))
        messages[topic.message] = _message(topic)
        carried = {topic.message: {"$ref": f"#/components/messages/{topic.message}"}}
        for name, model in topic.also:
            messages[name] = _message(topic, name, model)
            carried[name] = {"$ref": f"#/components/messages/{name}"}
        if topic.name == t.CONTACTS:
            messages["ContactCloudEvent"] = _binary_contact()
            carried["ContactCloudEvent"] = {"$ref": "#/components/messages/ContactCloudEvent"}
        channels[cid] = {
            "address": topic.name,
            "title": topic.summary,
            "messages": carried,
            "bindings": _kafka_channel(topic.name, compacted=topic.compacted),
        }
        for action, services in (("send", topic.writers), ("receive", topic.readers)):
            for service in services:
                operations[f"{service}{action.capitalize()}{cid[0].upper()}{cid[1:]}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{cid}"},
                    "summary": f"{service} {action}s {topic.name}",
                    "messages": [{"$ref": f"#/channels/{cid}/messages/{m}"} for m in carried],
                }
        if not topic.dead_letters:
            continue
        dead = f"{topic.message}DeadLetter"
        messages[dead] = _dead_letter(topic)
        channels[dlq] = {
            "address": t.dlq_of(topic.name),
            "title": f"Dead letters of {topic.name}, written by its reader",
            "messages": {dead: {"$ref": f"#/components/messages/{dead}"}},
            "bindings": _kafka_channel(t.dlq_of(topic.name)),
        }
        for reader in topic.readers:
            operations[f"{reader}Send{dlq[0].upper()}{dlq[1:]}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{dlq}"},
                "summary": f"{reader} dead-letters a {topic.name} record it cannot use",
                "messages": [{"$ref": f"#/channels/{dlq}/messages/{dead}"}],
            }
    for name, key in CHANGELOG_KEYS.items():
        channels[channel_id(name)] = {
            "address": name,
            "title": "Internal state (compacted): records may change between releases",
            "messages": {
                "StateRecord": {
                    "name": "StateRecord",
                    "payload": {"description": "internal; read only by its service"},
                    "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}},
                }
            },
            "bindings": _kafka_channel(name, compacted=True),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "escalation topics",
            "version": __version__,
            "description": "Every topic the services read or write (docs/contract.md, "
            "Topics). Values are compact UTF-8 JSON; keys and header values are UTF-8.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Apache Kafka: acks=all, idempotent producers",
            },
            "embedded": {
                "host": "127.0.0.1:8092",
                "protocol": "kafka",
                "description": "`escalation up`: Tansu on port base + 12, memory storage",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": _schemas(), "messages": messages},
    }


def render() -> str:
    return json.dumps(document(), indent=2) + "\n"


def export(path: Path = ASYNCAPI_PATH) -> Path | None:
    """Write the document; None when the docs/ folder is not here (an installed package)."""
    if not path.parent.is_dir():
        return None
    path.write_text(render())
    return path
