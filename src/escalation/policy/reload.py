"""Hold the running policy and hot-reload it: on a file change (polled) or on SIGHUP.

A broken file never replaces a working policy: it is logged with every error and counted,
and the running policy stays. Polling (not inotify) because it is portable and sees a
Kubernetes ConfigMap update, which swaps a symlink rather than writing the file.

What a service builds from the policy (the router's engine, the pager's targets) is a
:class:`Derived`: rebuilt from ``holder.current`` on its first use after a reload, so
every service that reads the policy follows the same file the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from .load import LoadedPolicy, PolicyError, load_policy

log = structlog.get_logger(__name__)

Signature = tuple[int, int] | None
T = TypeVar("T")


class PolicyHolder:
    """Owns the current :class:`LoadedPolicy`; ``current`` is a plain attribute read."""

    def __init__(
        self,
        path: Path,
        registry: CollectorRegistry,
        loader: Callable[[Path], LoadedPolicy] = load_policy,
    ) -> None:
        self.path = Path(path)
        self._loader = loader
        self._lock = threading.Lock()
        self._reloads = Counter(
            "escalation_policy_reloads",
            "Policy reload attempts, by result (ok, failed, unchanged).",
            ["result"],
            registry=registry,
        )
        self._info = Gauge(
            "escalation_policy_info",
            "The running policy: 1 for its version and source.",
            ["version", "source"],
            registry=registry,
        )
        self._success = Gauge(
            "escalation_policy_last_reload_success",
            "1 if the last policy load or reload succeeded or found the file unchanged, else 0.",
            registry=registry,
        )
        self._timestamp = Gauge(
            "escalation_policy_last_reload_timestamp_seconds",
            "Unix time of the last policy load or reload attempt, whatever its result.",
            registry=registry,
        )
        self._signature = self._stat()  # before reading: a write in between is seen next poll
        self.current: LoadedPolicy = loader(self.path)  # a PolicyError here stops the service
        self._info.labels(self.current.version, self.current.source).set(1)
        self._success.set(1)
        self._timestamp.set(time.time())
        log.info("policy.loaded", version=self.current.version, source=self.current.source)

    def _stat(self) -> Signature:
        try:
            st = os.stat(self.path)  # follows symlinks: a ConfigMap swap changes the target
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def reload(self, reason: str) -> bool:
        """Re-read the file; True if a new valid policy now runs."""
        with self._lock:
            old = self.current
            self._signature = self._stat()
            self._timestamp.set(time.time())
            try:
                new = self._loader(self.path)
            except PolicyError as exc:
                return self._failed(old, reason, exc.errors)
            except Exception as exc:  # e.g. a file that is not UTF-8
                log.exception("policy.reload_error", source=str(self.path), reason=reason)
                return self._failed(old, reason, [f"(file): {type(exc).__name__}: {exc}"])
            self._success.set(1)
            if new.version == old.version:
                self._reloads.labels("unchanged").inc()
                log.debug("policy.unchanged", version=old.version, reason=reason)
                return False
            self.current = new
            self._info.labels(new.version, new.source).set(1)
            self._info.remove(old.version, old.source)
            self._reloads.labels("ok").inc()
            log.info("policy.reloaded", old=old.version, new=new.version, reason=reason)
            return True

    def _failed(self, old: LoadedPolicy, reason: str, errors: list[str]) -> bool:
        self._success.set(0)
        self._reloads.labels("failed").inc()
        log.error(
            "policy.reload_failed",
            source=str(self.path),
            reason=reason,
            running=old.version,
            errors=errors,
        )
        return False

    def _safe_reload(self, reason: str) -> None:
        try:
            self.reload(reason)
        except Exception:
            log.exception("policy.reload_error", source=str(self.path), reason=reason)

    async def watch(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Poll the file every ``interval`` seconds and reload on SIGHUP, until ``stop``."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._safe_reload, "SIGHUP")
            hup = True
        except (NotImplementedError, RuntimeError, ValueError, AttributeError) as exc:
            log.warning("policy.sighup_unavailable", error=str(exc))  # Windows, not main thread
            hup = False
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                if stop.is_set():
                    break
                if self._stat() != self._signature:
                    self._safe_reload("file changed")
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)


class Derived(Generic[T]):
    """A value built from the running policy, rebuilt at most once per policy version.

    ``get()`` compares the version it was built from with ``holder.current``'s: one string
    comparison per use. A reload that failed left ``holder.current`` alone, so the value
    built from the running policy stays; so does it when the build itself raises.
    """

    def __init__(self, holder: PolicyHolder, build: Callable[[LoadedPolicy], T]) -> None:
        self._holder = holder
        self._build = build
        self._seen = holder.current.version
        self._value = build(holder.current)  # a failure here stops the service at start
        self.built_from = self._seen
        """The policy version the value was built from."""

    def get(self) -> T:
        current = self._holder.current
        if current.version != self._seen:
            self._seen = current.version  # once per version, even if the build fails
            try:
                self._value = self._build(current)
            except Exception:
                log.exception("policy.rebuild_failed", version=current.version)
            else:
                self.built_from = current.version
        return self._value
