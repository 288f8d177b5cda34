"""Start the embedded stack's processes, show their readiness, restart, stop and reap them.

Once the stack is ready, a child that dies is restarted under ``restarts.RestartPolicy``
and every exit and restart is printed; the stack stops if a child keeps failing. A child
that exits while the stack is still starting stops it at once (a bad setting or policy
is not cured by restarting). The broker is different: Tansu keeps topics in memory
only, so a broker that dies took every topic, offset and table changelog with it, and
the stack stops with that said rather than pretend to recover.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from .broker import EmbeddedBroker, die_with_parent, ensure_topics
from .restarts import RestartHistory, describe_exit
from .settings import Settings
from .topics import catalogue


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    passthrough_stdout: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    history: RestartHistory = field(default_factory=RestartHistory, init=False)
    restart_at: float | None = field(default=None, init=False)
    awaiting_ready: bool = field(default=False, init=False)


class Supervisor:
    def __init__(self, log_dir: Path, out: IO[str]) -> None:
        self.log_dir = log_dir
        self.out = out
        self.children: list[Child] = []
        self.broker: EmbeddedBroker | None = None
        self.stopping = asyncio.Event()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def run(
        self,
        broker_port: int,
        partitions: int,
        children: list[Child],
        demo: Path | None,
        intake_url: str,
        ports: dict[str, int],
    ) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        code = 0
        try:
            self.broker = EmbeddedBroker(port=broker_port, log_path=self.log_dir / "broker.log")
            self.broker.start()
            settings = Settings(profile="embedded", kafka_bootstrap=self.broker.bootstrap)
            await ensure_topics(
                settings.kafka_common(),
                catalogue(partitions),
                replication_factor=settings.replication_factor,
                min_insync_replicas=settings.min_insync_replicas,
            )
            assert self.broker.process is not None
            self.say(
                f"broker    kafka://{self.broker.bootstrap}  (Tansu, memory storage, "
                f"{partitions} partitions, pid {self.broker.process.pid})"
            )
            for child in children:
                self._spawn(child)
            if not await self._await_ready(children, started):
                return 1
            self.say(f"intake    {intake_url}/v1/contacts")
            for name in ("router", "escalator", "pager", "surge"):
                self.say(f"{name:<9} http://127.0.0.1:{ports[name]}/metrics")
            self.say(f"pages     http://127.0.0.1:{ports['sink']}/pages   logs: {self.log_dir}")
            self.say(f"ready in {time.monotonic() - started:.1f}s; Ctrl-C stops everything")
            if demo is not None:
                await self._send_demo(demo, intake_url)
            code = await self._watch(children)
        finally:
            await self._stop_all()
        return code

    def _log_of(self, child: Child) -> Path:
        return self.log_dir / f"{child.name}.log"

    def _spawn(self, child: Child) -> None:
        log = open(self._log_of(child), "ab")  # noqa: SIM115
        stdout = None if child.passthrough_stdout else log
        child.process = subprocess.Popen(
            child.argv,
            env=child.env,
            stdout=stdout,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        child.history.on_start(time.monotonic())
        if child not in self.children:
            self.children.append(child)

    async def _await_ready(
        self, children: list[Child], started: float, limit_seconds: float = 90.0
    ) -> bool:
        pending = {c.name: c for c in children}
        async with httpx.AsyncClient(timeout=1.0) as client:
            while pending and not self.stopping.is_set():
                if self._broker_died():
                    return False
                for name, child in list(pending.items()):
                    assert child.process is not None
                    if child.process.poll() is not None:
                        self.say(
                            f"{name} exited with code {child.process.returncode} while "
                            f"starting; see {self.log_dir / (name + '.log')}"
                        )
                        return False
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(child.ready_url)).status_code == 200:
                            self.say(
                                f"  ready  {name:<9} ({time.monotonic() - started:.1f}s, "
                                f"pid {child.process.pid})"
                            )
                            del pending[name]
                if time.monotonic() - started > limit_seconds:
                    self.say(
                        f"not ready after {limit_seconds:.0f}s: {', '.join(pending)}; "
                        f"logs in {self.log_dir}"
                    )
                    return False
                await asyncio.sleep(0.25)
        return not pending

    async def _send_demo(self, demo: Path, intake_url: str) -> None:
        from escalation.cli.send import send_file

        accepted, duplicates, rejected = await asyncio.to_thread(
            send_file, demo, intake_url, out=self.out, shift_to_now=True
        )
        self.say(
            f"demo: sent {demo} ({accepted} accepted, {duplicates} duplicates, "
            f"{rejected} rejected); pages follow"
        )

    def _broker_died(self) -> bool:
        assert self.broker is not None and self.broker.process is not None
        code = self.broker.process.poll()
        if code is None:
            return False
        self.say(
            f"broker exited with {describe_exit(code)}: it kept every topic, offset and "
            "state changelog in memory, so they are gone and the services cannot recover "
            f"them; stopping the stack (log: {self.log_dir / 'broker.log'}). "
            "Start it again with `escalation up`."
        )
        return True

    async def _watch(self, children: list[Child]) -> int:
        """Restart children that die, show it; 1 if the broker dies or a child keeps failing."""
        async with httpx.AsyncClient(timeout=1.0) as client:
            while not self.stopping.is_set():
                if self._broker_died():
                    return 1
                for child in children:
                    if not self._tend(child):
                        return 1
                    if child.awaiting_ready:
                        await self._check_ready(client, child)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=0.25)
        self.say("stopping ...")
        return 0

    def _tend(self, child: Child) -> bool:
        """Notice an exit, schedule or perform a restart; False when the child keeps failing."""
        assert child.process is not None
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restart_at = None
                self._spawn(child)
                child.awaiting_ready = True
                self.say(
                    f"  restarted {child.name} (pid {child.process.pid}, "
                    f"restart {child.history.count})"
                )
            return True
        code = child.process.poll()
        if code is None:
            return True
        child.awaiting_ready = False
        delay = child.history.on_exit(now)
        policy = child.history.policy
        if delay is None:
            self.say(
                f"{child.name} exited with {describe_exit(code)} after {policy.max_restarts} "
                f"restarts within {policy.window:.0f}s; it keeps failing, stopping the stack "
                f"(log: {self._log_of(child)})"
            )
            return False
        child.restart_at = now + delay
        self.say(
            f"{child.name} exited with {describe_exit(code)}; restart "
            f"{child.history.count} in {delay:.1f}s (log: {self._log_of(child)})"
        )
        return True

    async def _check_ready(self, client: httpx.AsyncClient, child: Child) -> None:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(child.ready_url)).status_code == 200:
                child.awaiting_ready = False
                assert child.process is not None
                self.say(
                    f"  ready  {child.name:<9} (after restart {child.history.count}, "
                    f"pid {child.process.pid})"
                )

    async def _stop_all(self, grace: float = 15.0) -> None:
        # Front door first, sink last: nothing new enters while the rest drains.
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            if child.process is None:
                continue
            remaining = max(0.0, deadline - time.monotonic())
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(child.process.wait, remaining)
            if child.process.poll() is None:
                child.process.kill()
                child.process.wait()
        if self.broker is not None:
            self.broker.stop()
        self.say("stopped; no process left behind")
