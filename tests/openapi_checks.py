"""Hold documents and answers to an OpenAPI 3.1 document: examples, live responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate


def valid_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The document, once openapi-spec-validator found it a valid OpenAPI 3.1 document."""
    validate(doc)
    return doc


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> OAS31Validator:
    """A validator of ``schema`` whose ``#/components/...`` references resolve in ``doc``."""
    rooted = {**schema, "components": doc.get("components", {})}
    return OAS31Validator(rooted, format_checker=OAS31Validator.FORMAT_CHECKER)


def examples(doc: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(where, example, schema) for every example in the document."""
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            here = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                if "example" in param:
                    yield f"{here} parameter {param['name']}", param["example"], param["schema"]
            body = op.get("requestBody", {}).get("content", {})
            for media, item in body.items():
                if "example" in item:
                    yield f"{here} request {media}", item["example"], item["schema"]
            for status, response in op["responses"].items():
                for media, item in response.get("content", {}).items():
                    if "example" in item:
                        yield f"{here} {status} {media}", item["example"], item["schema"]


def check_answer(doc: dict[str, Any], method: str, template: str, answer: httpx.Response) -> Any:
    """Fail unless ``answer`` is a documented response of ``method template`` whose body
    validates against the documented schema; return the parsed body (None for text)."""
    op = doc["paths"][template][method.lower()]
    status = str(answer.status_code)
    assert status in op["responses"], f"{method} {template}: {status} is not documented"
    content = op["responses"][status].get("content", {})
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    assert media in content, f"{method} {template} {status}: {media} not in {sorted(content)}"
    if not media.endswith("json"):
        return None
    body = json.loads(answer.content)
    errors = sorted(validator(doc, content[media]["schema"]).iter_errors(body), key=str)
    assert not errors, f"{method} {template} {status}: {errors[0].message} in {body}"
    return body
