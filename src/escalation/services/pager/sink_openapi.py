"""The page sink's OpenAPI operations: a webhook receiver, and what it received."""

from __future__ import annotations

from escalation.schemas import WebhookPage
from escalation.services.common.openapi import ApiDocument, json_content, problems, ref

LISTED = {"type": "object", "description": "see docs/contract.md, The page sink"}


def describe(doc: ApiDocument) -> None:
    doc.description = "The embedded stack's page receiver (development): signed webhooks in."
    doc.add(
        "POST",
        "/pages",
        {
            "operationId": "receivePage",
            "summary": "A signed webhook page (Standard Webhooks headers)",
            "tags": ["pages"],
            "requestBody": {"required": True, "content": json_content(ref(WebhookPage))},
            "responses": {
                "204": {"description": "taken (a repeated webhook-id is counted, not shown)"},
                **problems(
                    {
                        400: ["malformed-json", "disconnected"],
                        401: ["bad-signature"],
                        413: ["body-too-large"],
                        422: ["schema-violation"],
                    }
                ),
            },
        },
        (WebhookPage,),
    )
    for path, summary in (
        ("/pages", "Each accepted page once, with its delivery count"),
        ("/deliveries", "Every delivery, repeats and refusals included, with the totals"),
    ):
        doc.add(
            "GET",
            path,
            {
                "operationId": f"list{path.strip('/').capitalize()}",
                "summary": summary,
                "tags": ["pages"],
                "responses": {
                    "200": {
                        "description": summary.lower(),
                        "content": json_content(
                            {"type": "array", "items": LISTED} if path == "/pages" else LISTED
                        ),
                    }
                },
            },
        )
