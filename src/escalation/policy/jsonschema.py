"""JSON Schema of a policy file, for editors and CI (``escalation schemas export`` writes it).

Property names are the aliases (``customer.tier``, ``continue``): what a YAML file contains.
Fields whose model accepts more than their type says get the wider input shape: durations
('72h' or seconds), ``min_authority`` (an integer or a mapping) and clock times ('24:00').
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from escalation.schemas.jsonschema import SCHEMA_DIR
from escalation.schemas.silence import matcher_from_text

from .model import Policy, _authority, _clock, parse_duration

POLICY_SCHEMA_PATH = SCHEMA_DIR / "policy.schema.json"
TITLE = "escalation policy v1"

_DURATION = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "description": "seconds"},
        {
            "type": "string",
            "pattern": r"^\s*(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?\s*$",
            "minLength": 1,
            "description": "e.g. '90s', '15m', '72h', '1d12h'",
        },
    ]
}
_CLOCK = {
    "type": "string",
    "pattern": r"^\s*\d{1,2}:\d{2}",
    "description": "'HH:MM', quoted (YAML reads a bare 17:30 as a number); '24:00' ends the day",
}


class _PolicySchema(GenerateJsonSchema):
    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        function = schema["function"]["function"]
        if function is parse_duration:
            return json.loads(json.dumps(_DURATION))
        if function is _clock:
            return dict(_CLOCK)
        if function is _authority:
            number = {"type": "integer", "minimum": 0, "maximum": 10}
            return {"anyOf": [number, self.generate_inner(schema["schema"])]}
        if function is matcher_from_text:
            text = {"type": "string", "description": "e.g. 'product=x', 'category=~\"hvac.*\"'"}
            return {"anyOf": [text, self.generate_inner(schema["schema"])]}
        return super().function_before_schema(schema)


def _drop_ge(node: Any) -> None:
    """Duration's ``Field(ge=1)`` leaks as a non-standard 'ge' key; the shape above has it."""
    if isinstance(node, dict):
        if isinstance(node.get("ge"), int) and ("anyOf" in node or "type" in node):
            del node["ge"]
        for value in node.values():
            _drop_ge(value)
    elif isinstance(node, list):
        for value in node:
            _drop_ge(value)


def policy_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_PolicySchema
    )
    _drop_ge(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = TITLE
    return schema


def render_policy_schema() -> str:
    return json.dumps(policy_schema(), indent=2, sort_keys=True) + "\n"
