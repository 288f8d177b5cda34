"""The query API at intake: who may read escalations, and the hop to the escalator.

The escalator answers from its own state (its table, in memory or on its disk), so the
answer has to come from there; intake checks the caller's token (the ``escalations``
scope, as for commands) and an escalation id's form, then proxies the request to the
escalator's web port, whose worker forwards it on to the worker holding the customer.
A proxy, not a redirect: the escalator's port is internal and checks no token.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import structlog

from escalation.services.common.problems import PROBLEM_JSON, Problem

from .auth import TokenAuth
from .commands import customer_or_404

log = structlog.get_logger(__name__)

PASSED_BACK = {"retry-after"}
"""Headers of the escalator's answer that reach the caller."""


class Queries:
    def __init__(
        self,
        auth: TokenAuth,
        escalator_url: str,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.auth = auth
        self.escalator_url = escalator_url.rstrip("/")
        self.client = httpx.AsyncClient(timeout=timeout_seconds, transport=transport)

    async def get(
        self, path: str, query: str, headers: Mapping[str, str], escalation_id: str | None
    ) -> tuple[int, bytes, str, dict[str, str]]:
        """(status, body, content type, headers) of the escalator's answer to ``path``."""
        self.auth.authorize(headers.get("authorization"), "escalations")
        if escalation_id is not None:
            customer_or_404(escalation_id)  # malformed: 404 here, the escalator never asked
        url = f"{self.escalator_url}{path}" + (f"?{query}" if query else "")
        try:
            answer = await self.client.get(url)
        except httpx.HTTPError as exc:
            log.warning("intake.escalator_unreachable", url=url, error=repr(exc))
            raise Problem(
                503,
                "escalator-unavailable",
                f"the escalator did not answer ({type(exc).__name__}); try again shortly",
                headers={"retry-after": "5"},
            ) from exc
        content_type = answer.headers.get("content-type", PROBLEM_JSON)
        passed = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_BACK}
        return answer.status_code, answer.content, content_type, passed

    async def close(self) -> None:
        await self.client.aclose()
