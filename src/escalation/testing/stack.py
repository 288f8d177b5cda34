"""Start the real embedded stack (`escalation up`) as a process and talk to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from escalation.services.common.broker import free_port

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_POLICY = ROOT / "config" / "policy.example.yaml"
T = TypeVar("T")


def port_block(size: int = 13) -> int:
    """A base port whose next ``size`` loopback ports are all free right now."""
    return free_port("127.0.0.1", size)


def eventually(probe: Callable[[], T | None], what: str, limit: float = 60.0) -> T:
    """Poll ``probe`` until it returns a value; a bound on waiting, not a speed assertion."""
    deadline = time.monotonic() + limit
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {limit:.0f}s")
        time.sleep(0.2)


def scrape(base_url: str, name: str, **labels: str) -> float:
    """Sum of the samples of metric ``name`` whose labels include ``labels``."""
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if (line.startswith(name + "{") or line.startswith(name + " "))
        and all(f'{k}="{v}"' in line for k, v in labels.items())
    )


def page_matches(page: dict[str, Any], match: dict[str, Any]) -> bool:
    """Whether the payload's fields equal ``match`` (``customer`` compares the id)."""
    return all(
        (page["customer"]["id"] if k == "customer" else page.get(k)) == v for k, v in match.items()
    )


def sink_deliveries(sink_url: str) -> dict[str, Any]:
    """The page sink's totals and every delivery it received, in arrival order."""
    return httpx.get(f"{sink_url}/deliveries", timeout=5).json()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    base: int
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def intake(self) -> str:
        return f"http://127.0.0.1:{self.base}"

    @property
    def sink(self) -> str:
        return f"http://127.0.0.1:{self.base + 4}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.base + 12}"

    def web(self, service: str) -> str:
        offset = {"router": 1, "escalator": 2, "pager": 3, "sink": 4, "surge": 5}[service]
        return f"http://127.0.0.1:{self.base + offset}"

    @property
    def ports(self) -> list[int]:
        return [self.base + offset for offset in (0, 1, 2, 3, 4, 5, 12)]

    def pages(self, **match: Any) -> list[dict[str, Any]]:
        """Accepted pages (each once, with its ``deliveries`` count) matching ``match``."""
        received = httpx.get(f"{self.sink}/pages", timeout=5).json()
        return [item for item in received if page_matches(item["page"], match)]

    def deliveries(self, **match: Any) -> list[dict[str, Any]]:
        """Every accepted delivery, repeats included, whose page matches ``match``."""
        return [
            item
            for item in sink_deliveries(self.sink)["deliveries"]
            if item["accepted"] and page_matches(item["page"], match)
        ]

    def metric(self, service: str, name: str, **labels: str) -> float:
        return scrape(self.web(service), name, **labels)


def start_stack(
    env_extra: dict[str, str], policy: Path = EXAMPLE_POLICY, partitions: int = 2
) -> Stack:
    base = port_block()
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "escalation",
            "up",
            "--port-base",
            str(base),
            "--policy",
            str(policy),
            "--partitions",
            str(partitions),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stack = Stack(base, process)
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.output.append(line.rstrip("\n"))
            if line.startswith("ready in"):
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(120) or process.poll() is not None:
        stop_stack(stack)
        raise RuntimeError("stack did not start:\n" + "\n".join(stack.output[-40:]))
    return stack


def stop_stack(stack: Stack) -> int:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.process.pid, signal.SIGKILL)
            stack.process.wait()
    return stack.process.returncode


@dataclass
class Service:
    """One service as its own process (``escalation <name>``), for crash tests."""

    name: str
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, limit: float = 90.0) -> Service:
        return self.launch().wait_ready(limit)

    def launch(self) -> Service:
        """Start the process without waiting, so several services can start side by side."""
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "escalation", self.name],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, limit: float = 90.0) -> Service:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        eventually(ready, f"{self.name} to be ready", limit)
        return self

    def wait_exit(self, limit: float = 60.0) -> int:
        """Wait for the process to end by itself; its return code (-9: SIGKILL)."""
        assert self.process is not None
        process = self.process
        eventually(lambda: process.poll() is not None, f"{self.name} to exit", limit)
        return process.returncode

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def metric(self, name: str, **labels: str) -> float:
        return scrape(f"http://127.0.0.1:{self.port}", name, **labels)
