"""``escalation dlq replay TOPIC``: put dead letters back on their source topic after a fix.

Each record goes back as it was first read: the original key, value and headers (the
dead-letter headers removed), to the source topic and partition its headers name. The
services dedup by event, command and page ids, so replaying a record that was already
handled changes nothing. Only what was dead-lettered before the replay began is replayed
(a page that fails again is dead-lettered anew, not replayed in a loop). A consumer
group per DLQ remembers how far replay got, so a
second run replays only what was dead-lettered since; ``--from-start`` replays all.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

from escalation.services.common.dlq import DEAD_LETTER_HEADERS
from escalation.services.common.settings import Settings

IDLE_POLLS = 2
"""Empty polls in a row that mean the DLQ is read to its end (the embedded broker's end
offsets cannot be trusted, docs/broker.md)."""


def source_of(topic: str, headers: dict[str, bytes]) -> tuple[str, int | None]:
    """Where a dead letter came from: its headers, else the DLQ's name without ``.dlq``."""
    source = headers.get("source-topic")
    partition = headers.get("source-partition")
    name = source.decode() if source else topic.replace(".dlq.", ".").removesuffix(".dlq")
    return name, int(partition) if partition and partition.isdigit() else None


async def replay(settings: Settings, topic: str, from_start: bool, reason: str | None) -> Counter:
    """Re-publish the dead letters of ``topic``; returns how many went to each source.

    Only what was dead-lettered before the replay started is replayed: a record that
    fails again is dead-lettered anew, and reading on would replay it in a loop.
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    started_ms = int(time.time() * 1000)
    consumer = AIOKafkaConsumer(
        topic, **settings.consumer_options(f"escalation-dlq-replay.{topic}")
    )
    producer = AIOKafkaProducer(**settings.producer_options())
    replayed: Counter = Counter()
    await consumer.start()
    await producer.start()
    try:
        if from_start:
            await consumer.seek_to_beginning()
        idle = 0
        while idle < IDLE_POLLS:
            batch = await consumer.getmany(timeout_ms=1000)
            idle = 0 if batch else idle + 1
            sent, done = [], {}
            for tp, messages in batch.items():
                for message in messages:
                    if message.timestamp >= started_ms:
                        consumer.pause(tp)  # dead-lettered since the replay began
                        break
                    done[tp] = message.offset + 1
                    headers = {k: bytes(v) for k, v in message.headers}
                    if reason is not None and headers.get("error-type", b"").decode() != reason:
                        continue
                    sent.append(await _send(producer, topic, message, headers))
                    replayed[source_of(topic, headers)[0]] += 1
            await asyncio.gather(*sent)  # every record acknowledged before the commit
            if done:
                await consumer.commit(done)
            if consumer.assignment() and consumer.paused() >= consumer.assignment():
                break
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


async def _send(producer: Any, topic: str, message: Any, headers: dict[str, bytes]) -> Any:
    source, partition = source_of(topic, headers)
    original = [(k, v) for k, v in headers.items() if k not in DEAD_LETTER_HEADERS]
    return await producer.send(
        source, message.value, key=message.key, headers=original, partition=partition
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings(**({"kafka_bootstrap": args.bootstrap} if args.bootstrap else {}))
    if ".dlq" not in args.topic:
        print(f"escalation dlq replay: {args.topic} is not a DLQ topic (*.dlq.v1)", file=sys.stderr)
        return 2
    replayed = asyncio.run(replay(settings, args.topic, args.from_start, args.reason))
    total = sum(replayed.values())
    where = ", ".join(f"{n} to {source}" for source, n in sorted(replayed.items())) or "none"
    print(f"replayed {total} dead letter(s) from {args.topic}: {where}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    dlq = sub.add_parser("dlq", help="dead letters: replay them after a fix")
    dsub = dlq.add_subparsers(dest="dlq_command", required=True)
    replay_cmd = dsub.add_parser(
        "replay", help="re-publish a DLQ's records (original bytes and headers) to their source"
    )
    replay_cmd.add_argument("topic", help="the DLQ, e.g. pages.dlq.v1")
    replay_cmd.add_argument("--bootstrap", default=None)
    replay_cmd.add_argument(
        "--from-start", action="store_true", help="replay every record, not only new ones"
    )
    replay_cmd.add_argument(
        "--reason", default=None, help="only dead letters with this error-type (e.g. delivery)"
    )
    replay_cmd.set_defaults(func=run)
