"""Start the embedded stack's processes, show their readiness, stop and reap them all."""

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
            settings = Settings(kafka_bootstrap=self.broker.bootstrap)
            await ensure_topics(settings.kafka_common(), catalogue(partitions))
            self.say(
                f"broker    kafka://{self.broker.bootstrap}  (Tansu, memory storage, "
                f"{partitions} partitions)"
            )
            for child in children:
                self._spawn(child)
            if not await self._await_ready(children, started):
                return 1
            self.say(f"intake    {intake_url}/v1/contacts")
            for name in ("router", "escalator", "pager"):
                self.say(f"{name:<9} http://127.0.0.1:{ports[name]}/metrics")
            self.say(f"pages     http://127.0.0.1:{ports['sink']}/pages   logs: {self.log_dir}")
            self.say(f"ready in {time.monotonic() - started:.1f}s; Ctrl-C stops everything")
            if demo is not None:
                await self._send_demo(demo, intake_url)
            code = await self._watch(children)
        finally:
            await self._stop_all()
        return code

    def _spawn(self, child: Child) -> None:
        log = open(self.log_dir / f"{child.name}.log", "ab")  # noqa: SIM115
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
        self.children.append(child)

    async def _await_ready(
        self, children: list[Child], started: float, limit_seconds: float = 90.0
    ) -> bool:
        pending = {c.name: c for c in children}
        async with httpx.AsyncClient(timeout=1.0) as client:
            while pending and not self.stopping.is_set():
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
                            self.say(f"  ready  {name:<9} ({time.monotonic() - started:.1f}s)")
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

    async def _watch(self, children: list[Child]) -> int:
        while not self.stopping.is_set():
            for child in children:
                assert child.process is not None
                if child.process.poll() is not None:
                    self.say(
                        f"{child.name} exited with code {child.process.returncode}; "
                        f"stopping the stack (log: {self.log_dir / (child.name + '.log')})"
                    )
                    return 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=0.5)
        self.say("stopping ...")
        return 0

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
