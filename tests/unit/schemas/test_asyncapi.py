"""docs/asyncapi.json: in sync with the models and the catalogue, and valid AsyncAPI 3.0."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from escalation.schemas import asyncapi
from escalation.services.common.topics import catalogue

SPEC = Path(__file__).parents[2] / "data" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def spec_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text()))


def test_the_checked_in_document_is_what_export_writes():
    assert asyncapi.ASYNCAPI_PATH.read_text() == asyncapi.render(), (
        "docs/asyncapi.json is stale: run `escalation schemas export`"
    )


def test_it_is_a_valid_asyncapi_3_document(spec_validator):
    errors = list(spec_validator.iter_errors(asyncapi.document()))
    assert not errors, errors[0].message


def test_the_validator_would_catch_a_broken_document(spec_validator):
    broken = copy.deepcopy(asyncapi.document())
    broken["components"]["messages"]["Contact"]["payload"] = {"type": "objekt"}
    del broken["info"]["version"]
    assert len(list(spec_validator.iter_errors(broken))) == 2


def test_every_topic_of_the_catalogue_has_a_channel_and_nothing_else_does():
    addresses = {channel["address"] for channel in asyncapi.document()["channels"].values()}
    assert addresses == {spec.name for spec in catalogue(4)}


def test_every_message_example_validates_against_its_payload_and_headers():
    doc = asyncapi.document()
    components = {"components": doc["components"]}
    checked = 0
    for name, message in doc["components"]["messages"].items():
        for example in message.get("examples", []):
            for part, schema in (("payload", message["payload"]), ("headers", message["headers"])):
                validator = jsonschema.Draft202012Validator(
                    {**schema, **components}, format_checker=jsonschema.FormatChecker()
                )
                errors = list(validator.iter_errors(example[part]))
                assert not errors, f"{name} {part}: {errors[0].message}"
                checked += 1
    assert checked == 4


def test_contacts_carry_their_key_event_id_and_the_binary_cloudevent():
    doc = asyncapi.document()
    contacts = doc["channels"]["contactsV1"]
    assert set(contacts["messages"]) == {"Contact", "ContactCloudEvent"}
    messages = doc["components"]["messages"]
    assert messages["Contact"]["headers"]["required"] == ["event-id"]
    assert "customer id" in messages["Contact"]["bindings"]["kafka"]["key"]["description"]
    assert "ce_time" in messages["ContactCloudEvent"]["headers"]["required"]
    dead = messages["PageRequestDeadLetter"]["headers"]["properties"]["error-type"]
    assert dead["enum"] == ["decode", "schema", "bug", "delivery"]
    assert doc["operations"]["upstreamSendContactsV1"]["action"] == "send"
    assert doc["operations"]["routerReceiveContactsV1"]["action"] == "receive"


def test_the_dead_letter_headers_are_the_ones_the_services_write():
    """docs/asyncapi.json lists services/common/dlq.py's headers: the two cannot drift."""
    from escalation.schemas.records import DLQ_HEADERS
    from escalation.services.common.dlq import DEAD_LETTER_HEADERS, FAILED_TARGET

    assert set(DLQ_HEADERS["properties"]) == DEAD_LETTER_HEADERS
    assert set(DLQ_HEADERS["required"]) == DEAD_LETTER_HEADERS - {FAILED_TARGET}
