"""The embedded stack measured to the page: contacts in through intake, pages out at a receiver.

``escalation up`` runs the whole stack (broker, intake, router, escalator, pager) with
the example policy, its webhook target pointed at the bench's own receiver
(``bench/receiver.py``, another process), which verifies each page's signature and
records every delivery. A page is matched to its contacts through the page's
``contacts`` list; its latency runs from the send time of the last of them (the one
that made it escalate) to its verified arrival.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from escalation.services.common.broker import free_port
from escalation.services.pager.signing import new_secret
from escalation.testing.stack import EXAMPLE_POLICY, ROOT, Stack, eventually, start_stack

from .load import LoadResult, aio_run, percentile, post_all, post_paced
from .mix import Workload


def bench_policy(directory: Path, url: str) -> Path:
    """The example policy with its webhook target pointed at ``url``."""
    policy = yaml.safe_load(EXAMPLE_POLICY.read_text())
    for target in policy["targets"]:
        if target["type"] == "webhook":
            target.update(url=url, secret={"env": "BENCH_PAGE_SECRET"})
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


@dataclass
class Outcome:
    """What one workload caused at the receiver."""

    name: str
    contacts: int
    expected: int
    pages: int = 0
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    matched: list[tuple[str, str, float, float]] = field(default_factory=list)
    """(page id, the contact that made it escalate, when that was sent, when it arrived)"""
    first_sent: float = 0.0
    last_page: float = 0.0
    load: LoadResult | None = None

    @property
    def seconds(self) -> float:
        return self.last_page - self.first_sent

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


class PageBench:
    """One stack and one receiver for every end-to-end scenario, stopped together."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-pages-")
        self.secret = new_secret()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.receiver: subprocess.Popen[bytes] | None = None
        self.stack: Stack | None = None
        self.read = 0

    def start(self) -> None:
        env = {**os.environ, "BENCH_PAGE_SECRET": self.secret}
        self.receiver = subprocess.Popen(
            [sys.executable, "-m", "bench.receiver", str(self.port)],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        eventually(self._receiver_up, "bench receiver to listen", 30)
        policy = bench_policy(Path(self.tmp.name), f"{self.url}/pages")
        self.stack = start_stack(
            {
                "BENCH_PAGE_SECRET": self.secret,
                # The bench measures capacity, not intake's per-source rate limit.
                "ESCALATION_INTAKE_RATE_PER_SOURCE": "1000000",
                "ESCALATION_INTAKE_BURST_PER_SOURCE": "1000000",
            },
            policy=policy,
            partitions=self.partitions,
        )

    def stop(self) -> None:
        from escalation.testing.stack import stop_stack

        try:
            if self.stack is not None:
                stop_stack(self.stack)
        finally:
            if self.receiver is not None and self.receiver.poll() is None:
                self.receiver.terminate()
                try:
                    self.receiver.wait(10)
                except subprocess.TimeoutExpired:
                    self.receiver.kill()
                    self.receiver.wait()
            self.tmp.cleanup()

    def _receiver_up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/deliveries/0", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def set_delay(self, milliseconds: float) -> None:
        httpx.post(f"{self.url}/delay", content=str(milliseconds), timeout=5).raise_for_status()

    def new_deliveries(self) -> list[dict]:
        answer = httpx.get(f"{self.url}/deliveries/{self.read}", timeout=10).json()
        if answer["rejected"]:
            raise RuntimeError(
                f"receiver rejected {answer['rejected']} badly signed or invalid page(s)"
            )
        self.read += len(answer["deliveries"])
        return answer["deliveries"]

    def run(
        self,
        workload: Workload,
        rate: float | None = None,
        batch: int = 1,
        connections: int = 64,
        limit: float = 120.0,
    ) -> Outcome:
        """Send ``workload`` (paced at ``rate``, or as fast as it goes) and wait for its pages."""
        assert self.stack is not None
        groups = [workload.bodies[i : i + batch] for i in range(0, len(workload.bodies), batch)]
        bodies = [g[0] if batch == 1 else b"[" + b",".join(g) + b"]" for g in groups]
        port, path = self.stack.base, "/v1/contacts"
        if rate is None:
            result = aio_run(post_all("127.0.0.1", port, path, bodies, connections))
        else:
            result = aio_run(post_paced("127.0.0.1", port, path, bodies, rate, connections))
        if set(result.statuses) != {202}:
            raise RuntimeError(f"intake answered {result.statuses} to {workload.name}")
        sent = {eid: result.sent_at[i // batch] for i, eid in enumerate(workload.ids)}
        outcome = Outcome(workload.name, len(workload.ids), workload.pages, load=result)
        outcome.first_sent = min(result.sent_at)
        seen: set[str] = set()
        deadline = time.monotonic() + limit
        while len(seen) < workload.pages and time.monotonic() < deadline:
            for delivery in self.new_deliveries():
                ours = [c for c in delivery["contacts"] if c in sent]
                if not ours or delivery["type"] != "escalation.paged":
                    continue
                if delivery["repeat"] or delivery["webhook_id"] in seen:
                    outcome.duplicates += 1
                    continue
                seen.add(delivery["webhook_id"])
                trigger = max(ours, key=sent.__getitem__)
                outcome.latencies.append(delivery["at"] - sent[trigger])
                outcome.matched.append(
                    (delivery["webhook_id"], trigger, sent[trigger], delivery["at"])
                )
                outcome.last_page = max(outcome.last_page, delivery["at"])
            time.sleep(0.05)
        outcome.pages = len(seen)
        return outcome
