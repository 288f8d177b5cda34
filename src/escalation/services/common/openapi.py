"""OpenAPI 3.1 documents of the services' HTTP APIs, built from the pydantic models.

Every ``HttpApp`` holds an :class:`ApiDocument`; code that registers a route registers
its operation beside it, and ``GET /openapi.json`` serves the result, so each service
documents exactly what it serves. A unit test holds each document to its app's routing
table (every route documented with its methods, nothing documented that is not served)
and validates it and its examples; an integration test validates live answers against it.
Schemas come from the models (``components.schemas``), so they cannot drift from the
code that parses requests and writes answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from escalation import __version__
from escalation.schemas.http import HTTP_MODELS, Health, Problem, Readiness

from .problems import PROBLEM_JSON, TITLES, TYPE_BASE

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
INTERNAL = "internal"
"""The error every operation can answer: an unexpected error, logged."""
RETRY_AFTER = {
    "description": "seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
}
WWW_AUTHENTICATE = {
    "description": 'Bearer realm="escalation", with error="invalid_token" or '
    '"insufficient_scope" when that is why',
    "schema": {"type": "string"},
}
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "`Authorization: Bearer <token>`. Each token has scopes, listed in the "
    "operation's security requirement: `contacts` (post contacts as the token's source) "
    "and `escalations` (act on and read escalations). With no tokens configured, intake is "
    "open to loopback callers only (development).",
}


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def json_content(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def problems(statuses: dict[int, list[str]]) -> dict[str, Any]:
    """Error responses: per status, a problem document whose ``type`` is one of ``slugs``."""
    out: dict[str, Any] = {}
    for status, slugs in sorted({**statuses, 500: [INTERNAL]}.items()):
        schema = {
            "allOf": [
                ref(Problem),
                {
                    "properties": {
                        "type": {"enum": [TYPE_BASE + slug for slug in slugs]},
                        "status": {"const": status},
                    }
                },
            ]
        }
        response: dict[str, Any] = {
            "description": f"{TITLES.get(status, 'Error')}: " + ", ".join(slugs),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        if status in (429, 503):
            response["headers"] = {"Retry-After": RETRY_AFTER}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": WWW_AUTHENTICATE}
        out[str(status)] = response
    return out


class ApiDocument:
    """One service's OpenAPI document, filled in as its routes are registered."""

    def __init__(self, service: str, description: str = "") -> None:
        self.service = service
        self.description = description
        self.paths: dict[str, dict[str, dict[str, Any]]] = {}
        self.models: list[type[BaseModel]] = list(HTTP_MODELS)
        self.security_schemes: dict[str, dict[str, Any]] = {}

    def add(
        self,
        method: str,
        path: str,
        operation: dict[str, Any],
        models: tuple[type[BaseModel], ...] = (),
    ) -> None:
        """Document ``method path``; ``models`` are the ones its schemas ``$ref``."""
        self.paths.setdefault(path, {})[method.lower()] = operation
        self.models += [m for m in models if m not in self.models]

    def operations(self) -> set[tuple[str, str]]:
        return {(m.upper(), p) for p, methods in self.paths.items() for m in methods}

    def render(self) -> dict[str, Any]:
        _, defs = models_json_schema(
            [(model, "validation") for model in self.models], ref_template=REF
        )
        components: dict[str, Any] = {"schemas": defs.get("$defs", {})}
        if self.security_schemes:
            components["securitySchemes"] = self.security_schemes
        return {
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": f"escalation {self.service}",
                "version": __version__,
                "description": self.description,
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
            "paths": {path: self.paths[path] for path in sorted(self.paths)},
            "components": components,
        }


def describe_common(doc: ApiDocument) -> None:
    """The pages every service serves: health, readiness, metrics and this document."""
    doc.add(
        "GET",
        "/healthz",
        {
            "operationId": "healthz",
            "summary": "Liveness: 200 as soon as the process runs, broker or not",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "the process runs",
                    "content": json_content(ref(Health), {"status": "ok"}),
                }
            },
        },
    )
    ready = {"status": "ready", "problems": []}
    not_ready = {"status": "not ready", "problems": ["broker not reachable yet"]}
    doc.add(
        "GET",
        "/readyz",
        {
            "operationId": "readyz",
            "summary": "Readiness: 200 once connected and while the broker answers",
            "tags": ["operations"],
            "responses": {
                "200": {"description": "ready", "content": json_content(ref(Readiness), ready)},
                "503": {
                    "description": "not ready, and why",
                    "content": json_content(ref(Readiness), not_ready),
                },
            },
        },
    )
    doc.add(
        "GET",
        "/metrics",
        {
            "operationId": "metrics",
            "summary": "Prometheus metrics (text exposition format)",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "every metric of this service",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        },
    )
    doc.add(
        "GET",
        "/openapi.json",
        {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "the OpenAPI 3.1 document of this service",
                    "content": json_content({"type": "object"}),
                }
            },
        },
    )
