"""What the pager owns beside faust's agents: its HTTP transport and its lanes, stopped with
the worker (the lanes first, so no delivery outlives the transport)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mode

from escalation.policy.outbound import OutboundRules
from escalation.services.common.settings import Settings

from .outbound import tls_context
from .targets.base import Wire
from .transport import AiohttpTransport

if TYPE_CHECKING:
    from .app import PagerService


STOP_DRAIN_SECONDS = 5.0
"""How long a stopping pager waits for the outcomes its lanes handed over to be written."""


def wire_for(rules: OutboundRules, settings: Settings) -> Wire:
    """The transport and TLS trust every target attempt uses; no redirects, always a timeout."""
    context = tls_context(settings.pager_ca_file)
    http = AiohttpTransport(rules, context, settings.pager_timeout_seconds)
    return Wire(http, rules, context)


class Owned(mode.Service):
    def __init__(self, pager: PagerService) -> None:
        super().__init__()
        self.pager = pager

    async def on_stop(self) -> None:
        await self.pager.lanes.stop()
        await self.pager.reporter.drain(STOP_DRAIN_SECONDS)  # unwritten: delivered again later
        await self.pager.reporter.stop()
        await self.pager.wire.http.aclose()
