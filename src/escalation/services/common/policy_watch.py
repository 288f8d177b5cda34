"""The policy watch of a faust service, as a mode service the app starts and stops.

The router runs ``PolicyHolder.watch`` as a task of its own loop; a faust app owns its
background work as services instead, so the watch stops with the worker and never
outlives it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import mode

from escalation.policy.reload import PolicyHolder


class PolicyWatcher(mode.Service):
    """Polls the policy file and reloads on SIGHUP while the app runs."""

    def __init__(self, holder: PolicyHolder, interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.holder = holder
        self.interval = interval
        self._stopping = asyncio.Event()
        self._watching: asyncio.Future[None] | None = None

    async def on_start(self) -> None:
        self._stopping.clear()
        self._watching = asyncio.ensure_future(self.holder.watch(self._stopping, self.interval))

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._watching is not None:
            await self._watching  # removes the SIGHUP handler before the loop closes
            self._watching = None
