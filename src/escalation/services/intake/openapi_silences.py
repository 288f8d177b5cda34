"""Intake's OpenAPI operations for silences (silences.py): create, list and expire.

A silence holds back the pages it matches (``mode: wait``) or drops them (``drop``) until
it ends; the escalation is still recorded and visible. The problems each operation can
answer are silences.py's and service.py's.
"""

from __future__ import annotations

from escalation.schemas.silence import Silence, SilenceBody, SilenceShown
from escalation.services.common.openapi import ApiDocument, json_content, problems, ref

SECURITY = [{"bearer": ["escalations"]}]
REFUSED = {401: ["unauthenticated", "invalid-token"], 403: ["insufficient-scope"]}
BODY_EXAMPLE = {
    "matchers": [
        {"name": "product", "op": "=", "value": "WH-50"},
        {"name": "urgency", "op": "!=", "value": "critical"},
    ],
    "ends_at": "2026-11-24T18:00:00Z",
    "mode": "wait",
    "comment": "known defect, the product team is on it",
}
SHOWN_EXAMPLE = {
    "id": "sil_4f1c2a9be03d7e55a1b2c3d4",
    "matchers": [{"name": "product", "op": "=", "value": "WH-50"}],
    "starts_at": "2026-11-24T15:00:00Z",
    "ends_at": "2026-11-24T18:00:00Z",
    "mode": "wait",
    "created_by": "token:ops",
    "created_at": "2026-11-24T15:00:00Z",
    "expired": False,
}
SILENCE_ID = {
    "name": "silence_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "the id POST /v1/silences answered with (sil_...)",
}


def describe_silences(doc: ApiDocument) -> None:
    doc.add(
        "POST",
        "/v1/silences",
        {
            "operationId": "createSilence",
            "summary": "Hold back (or drop) the pages that match, until ends_at",
            "description": "Matchers on any contact or escalation field (=, !=, =~, !~; "
            "regexes anchored). At most 366 days long. `created_by` is the token's "
            "principal; a body's `created_by` is kept as a claim in the comment.",
            "tags": ["silences"],
            "security": SECURITY,
            "requestBody": {
                "required": True,
                "content": json_content(ref(SilenceBody), BODY_EXAMPLE),
            },
            "responses": {
                "201": {
                    "description": "written to escalation.controls.v1",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": json_content(ref(Silence)),
                },
                **problems(
                    {
                        **REFUSED,
                        400: ["malformed-json", "disconnected"],
                        413: ["body-too-large"],
                        415: ["unsupported-media-type"],
                        422: ["schema-violation"],
                        503: ["broker-unavailable"],
                    }
                ),
            },
        },
        (SilenceBody, Silence),
    )
    items = {"type": "array", "items": ref(SilenceShown)}
    listed = {"type": "object", "properties": {"silences": items}}
    doc.add(
        "GET",
        "/v1/silences",
        {
            "operationId": "listSilences",
            "summary": "Silences in force or to come; ?expired=true adds those that ended",
            "tags": ["silences"],
            "security": SECURITY,
            "parameters": [
                {"name": "expired", "in": "query", "schema": {"type": "boolean"}},
            ],
            "responses": {
                "200": {
                    "description": "the silences",
                    "content": json_content(listed, {"silences": [SHOWN_EXAMPLE]}),
                },
                **problems({**REFUSED, 503: ["broker-unavailable"]}),
            },
        },
        (SilenceShown,),
    )
    doc.add(
        "DELETE",
        "/v1/silences/{silence_id}",
        {
            "operationId": "expireSilence",
            "summary": "Expire a silence now: the pages it held go out",
            "tags": ["silences"],
            "security": SECURITY,
            "parameters": [SILENCE_ID],
            "responses": {
                "200": {
                    "description": "expired (or already over: nothing changes)",
                    "content": json_content(ref(SilenceShown), {**SHOWN_EXAMPLE, "expired": True}),
                },
                **problems({**REFUSED, 404: ["unknown-silence"], 503: ["broker-unavailable"]}),
            },
        },
        (SilenceShown,),
    )
