import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from escalation.policy.jsonschema import POLICY_SCHEMA_PATH, render_policy_schema

EXAMPLE = Path(__file__).parents[3] / "config" / "policy.example.yaml"


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(render_policy_schema())


def resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref", "")
    return schema["$defs"][ref.removeprefix("#/$defs/")] if ref else node


def test_checked_in_policy_schema_matches_the_model():
    assert POLICY_SCHEMA_PATH.exists(), (
        "policy.schema.json missing: run `escalation schemas export`"
    )
    assert POLICY_SCHEMA_PATH.read_text() == render_policy_schema(), (
        "policy.schema.json drifted from the model: run `escalation schemas export`"
    )


def test_schema_uses_the_yaml_names(schema):
    assert schema["title"] == "escalation policy v1"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "routes" in schema["properties"]
    route = resolve(schema, schema["properties"]["routes"]["items"])
    assert "continue" in route["properties"]
    assert "continue_" not in route["properties"]
    match = resolve(schema, route["properties"]["match"])
    assert {"customer.tier", "customer.id"} <= set(match["properties"])


def test_the_example_policy_is_valid_against_the_schema(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), schema)


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p.update(bogus=1),
        lambda p: p["routes"][0].update(min_authority=11),
        lambda p: p["escalation"].update(repeat_window="three days"),
        lambda p: p["routes"][0]["match"].update({"customer.tier": ["platinum"]}),
    ],
    ids=["unknown key", "authority out of range", "bad duration", "unknown tier"],
)
def test_the_schema_rejects_what_the_model_rejects(schema, edit):
    policy = yaml.safe_load(EXAMPLE.read_text())
    edit(policy)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, schema)
