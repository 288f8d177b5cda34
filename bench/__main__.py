"""``make bench``: intake req/s and end-to-end events/s beside raw aiokafka, same run.

Every figure is measured on this machine in this run, so the ratios are what to read:
absolute numbers on a shared 2-core machine move from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from escalation.schemas import codec
from escalation.services.common.broker import EmbeddedBroker, ensure_topics
from escalation.services.common.settings import Settings
from escalation.services.common.topics import TopicSpec
from escalation.testing.stack import eventually, start_stack, stop_stack

from .load import post_all

PARTITIONS = 2


def contact(i: int, run: str) -> dict:
    return {
        "event_id": f"bench-{run}-{i}",
        "occurred_at": "2026-11-24T09:15:00-05:00",
        "source": "crm",
        "channel": "phone",
        "customer": {"id": f"C-{run}-{i % 5000}", "tier": "standard"},
        "issue_key": f"ticket-{i}",
        "category": "billing.question",
        "product": "AC-3000",
        "urgency": "normal",
        "summary": "Question about the last invoice for the annual service plan, two lines",
        "attributes": {"order": f"SO-{i}"},
    }


def values(n: int, run: str) -> list[bytes]:
    return [codec.dumps(contact(i, run)) for i in range(n)]


async def raw_produce(bootstrap: str, topic: str, payloads: list[bytes], **options) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", **options
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for offset in range(0, len(payloads), 1000):
            chunk = payloads[offset : offset + 1000]
            futures = [
                await producer.send(topic, v, key=str(i % 5000).encode())
                for i, v in enumerate(chunk, start=offset)
            ]
            await asyncio.gather(*futures)
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_pipeline(
    bootstrap: str, source: str, sink: str, n: int, joined: asyncio.Event
) -> tuple[float, float]:
    """consume -> decode/validate/encode -> produce, committing per batch: the raw loop.

    Returns when it read its first record and when it wrote its last.
    """
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{source}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await consumer.start()
    await producer.start()
    done = 0
    started = None
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        joined.set()
        while done < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            if started is None and batch:
                started = time.perf_counter()
            futures = []
            for messages in batch.values():
                for message in messages:
                    event = codec.decode_contact(message.value)
                    futures.append(await producer.send(sink, codec.encode(event), key=message.key))
            await asyncio.gather(*futures)
            if batch:
                await consumer.commit()
            done += len(futures)
        return started or time.perf_counter(), time.perf_counter()
    finally:
        await consumer.stop()
        await producer.stop()


async def raw_chain(bootstrap: str, topics: list[str], payloads: list[bytes]) -> float:
    """Raw hops running at once (like router + escalator), joined before the input arrives."""
    n = len(payloads)
    joined = [asyncio.Event() for _ in topics[1:]]
    hops = [
        asyncio.create_task(raw_pipeline(bootstrap, src, dst, n, event))
        for (src, dst), event in zip(itertools.pairwise(topics), joined, strict=True)
    ]
    await asyncio.gather(*(event.wait() for event in joined))
    await raw_produce(bootstrap, topics[0], payloads)
    spans = await asyncio.gather(*hops)
    return n / (max(end for _, end in spans) - min(start for start, _ in spans))


async def baseline(n: int) -> dict[str, float]:
    broker = EmbeddedBroker()
    broker.start()
    try:
        names = ["raw.p", "raw.q", "raw.a", "raw.b", "raw.e", "raw.f", "raw.g"]
        await ensure_topics(
            Settings(kafka_bootstrap=broker.bootstrap).kafka_common(),
            [TopicSpec(t, PARTITIONS) for t in names],
        )
        payloads = values(n, "raw")
        return {
            "produce": await raw_produce(broker.bootstrap, "raw.p", payloads),
            "produce_one_per_batch": await raw_produce(
                broker.bootstrap, "raw.q", payloads[: n // 4], max_batch_size=16
            ),
            "pipeline": await raw_chain(broker.bootstrap, ["raw.a", "raw.b"], payloads),
            "chain": await raw_chain(broker.bootstrap, ["raw.e", "raw.f", "raw.g"], payloads),
        }
    finally:
        broker.stop()


def escalator_processed(stack) -> float:
    return stack.metric("escalator", "escalation_escalator_outcomes_total", input="contact")


def stack_figures(single: int, batched: int, e2e: int) -> dict[str, float]:
    stack = start_stack({}, partitions=PARTITIONS)
    try:
        host, port = "127.0.0.1", stack.base
        run = uuid.uuid4().hex[:6]
        warm = asyncio.run(post_all(host, port, "/v1/contacts", values(500, run + "w"), 16))
        assert warm.statuses == {202: 500}, warm.statuses
        eventually(lambda: escalator_processed(stack) >= 500, "warm-up to drain", 300)

        one = asyncio.run(post_all(host, port, "/v1/contacts", values(single, run + "s"), 64))
        assert one.statuses == {202: single}, one.statuses
        eventually(lambda: escalator_processed(stack) >= 500 + single, "singles to drain", 600)

        bodies = values(batched, run + "b")
        batches = [b"[" + b",".join(bodies[i : i + 100]) + b"]" for i in range(0, batched, 100)]
        many = asyncio.run(post_all(host, port, "/v1/contacts", batches, 8))
        assert many.statuses == {202: len(batches)}, many.statuses
        eventually(
            lambda: escalator_processed(stack) >= 500 + single + batched, "batches to drain", 600
        )

        before = escalator_processed(stack)
        bodies = values(e2e, run + "e")
        batches = [b"[" + b",".join(bodies[i : i + 100]) + b"]" for i in range(0, e2e, 100)]
        started = time.perf_counter()
        result = asyncio.run(post_all(host, port, "/v1/contacts", batches, 8))
        assert result.statuses == {202: len(batches)}, result.statuses
        eventually(lambda: escalator_processed(stack) >= before + e2e, "end-to-end drain", 900)
        e2e_rate = e2e / (time.perf_counter() - started)
        return {
            "intake_single": one.rate,
            "intake_single_p99_ms": one.percentile(0.99) * 1000,
            "intake_batched_events": many.rate * 100,
            "end_to_end": e2e_rate,
        }
    finally:
        stop_stack(stack)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 20000)))
    parser.add_argument(
        "--router-runs",
        type=int,
        default=1,
        help="router events/s runs beside the raw loop (0 skips)",
    )
    args = parser.parse_args()
    n = args.events
    print(
        f"escalation bench: {n} events of ~{len(values(1, 'x')[0])} B, {PARTITIONS} partitions, "
        f"{os.cpu_count()} cores, embedded Tansu"
    )
    raw = asyncio.run(baseline(n))
    ours = stack_figures(single=n // 2, batched=n, e2e=n // 2)
    rows = [
        ("raw aiokafka produce (batched)", raw["produce"], "ev/s", None),
        ("raw aiokafka produce (1 record/batch)", raw["produce_one_per_batch"], "ev/s", "produce"),
        ("raw consume->validate->produce, 1 hop", raw["pipeline"], "ev/s", None),
        ("raw consume->validate->produce, 2 hops", raw["chain"], "ev/s", None),
        ("intake, one event per request", ours["intake_single"], "req/s", "produce"),
        ("intake, 100 events per request", ours["intake_batched_events"], "ev/s", "produce"),
        ("end to end: intake -> router -> escalator", ours["end_to_end"], "ev/s", "chain"),
    ]
    names = {"produce": "raw produce (batched)", "chain": "raw 2-hop chain"}
    print(f"\n{'measure':<46}{'value':>12}  {'unit':<6}{'ratio':>8}  to")
    for name, value, unit, base in rows:
        ratio = f"{value / raw[base]:8.2f}  {names[base]}" if base else ""
        print(f"{name:<46}{value:>12,.0f}  {unit:<6}{ratio}")
    print(f"\nintake single-event p99 latency: {ours['intake_single_p99_ms']:.1f} ms (64 conns)")
    print(
        "end to end runs from the first POST until the escalator has processed every event\n"
        "(one process per service); the raw chain runs both hops in one process, timed\n"
        "from the first record the first hop reads to the last record the second hop writes."
    )
    if args.router_runs > 0:
        from .router import print_rows, run_router_bench

        print_rows(run_router_bench(n, args.router_runs))
        print(
            "router: `escalation router` as a process, sent N contacts once ready\n"
            "(sticky state read and written for each), timed from the first poll of its routed\n"
            "count above 0 until N; raw: one aiokafka consume->decode->produce loop, commit\n"
            "per batch, timed from its first read to its last write."
        )

    from .replay import replay_rate

    print(f"\nreplay (routing + escalation decisions, one core): {replay_rate():,.0f} events/s")


if __name__ == "__main__":
    main()
