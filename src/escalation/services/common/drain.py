"""faust's fetch-to-stream loop without four tasks per message when nothing waits.

faust's consumer hands every fetched message to its conductor inside
``Service.wait_first(callback(message), suspend_flow.wait())``, so that a delivery
blocked on a full stream queue, a paused flow or a full producer buffer is given up
when a rebalance suspends the flow. ``wait_first`` makes four tasks per message (the
callback, the flow event, the consumer's stopped and crashed events) and an
``asyncio.wait``; nearly every delivery finishes without waiting at all (the queue has
room). Without those tasks faust consuming alone cost 42 us of CPU per message instead
of 77, and the escalator 149 instead of 218 on the realistic mix (``python -m bench
--only escalator``, the same minutes; docs/benchmarks.md).

``EagerDelivery._drain_messages`` is faust-streaming 0.15.3's loop with one change: the
delivery runs inline up to its first suspension (``first_step``); only a delivery that
does suspend is handed to ``wait_first`` as before (``finish``), so what a rebalance
does to a blocked delivery is unchanged. A delivery that completes inline did exactly
what the task would have done, in the same order: the loop awaits each message's
delivery before it reads the offset of the next, as faust does. faust-streaming is
pinned in requirements.lock; a test checks the copied loop still matches the version
it came from (tests/unit/services/test_drain.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from mode import Service

COPIED_FROM = "0.15.3"
"""The faust-streaming version whose ``Consumer._drain_messages`` this loop copies."""


def first_step(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run ``coro`` until it first suspends: (True, result) or (False, what it yielded)."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, yielded


async def finish(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Drive a coroutine that suspended on ``yielded`` to its end, as its task would.

    Waits for the future it yielded (``None``: a bare yield to the loop) without taking
    its outcome, then resumes it, so the coroutine reads the outcome itself. Cancelled
    meanwhile, it throws the cancellation into the coroutine, which cleans up (a queue
    put drops its waiter) as it would in a task that was cancelled.
    """
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait([yielded])
        except asyncio.CancelledError as cancelled:
            try:
                yielded = coro.throw(cancelled)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


class EagerDelivery:
    """Mixin for a faust ``Consumer``: deliveries that need not wait make no task."""

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - broker
        consumer = cast(Any, self)
        callback = consumer.callback
        getmany = consumer.getmany
        consumer_should_stop = cast(Service, consumer)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = consumer._read_offset.__getitem__
        set_read_offset = consumer._read_offset.__setitem__
        set_flag = consumer.diag.set_flag
        unset_flag = consumer.diag.unset_flag
        commit_every = consumer._commit_every
        acks_enabled_for = consumer.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = cast(AsyncIterator, getmany(timeout=1.0))
                await consumer.sleep(0)
                if not consumer.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await consumer._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and consumer._n_acked >= commit_every:
                                consumer._n_acked = 0
                                await consumer.commit()
                            # The one change: run the delivery inline; wait_first only
                            # for one that suspended (a full queue, a paused flow).
                            delivery = callback(message)
                            done, yielded = first_step(delivery)
                            if not done:
                                await consumer.wait_first(
                                    finish(delivery, yielded), consumer.suspend_flow.wait()
                                )
                            set_read_offset(tp, offset)
                        else:
                            consumer.log.dev("DROPPED MESSAGE ROFF %r", offset)
                    unset_flag(CONSUMER_FETCHING)
        except consumer.consumer_stopped_errors:
            if consumer.transport.app.should_stop:
                consumer.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if consumer.transport.app.should_stop:
                consumer.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            consumer.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)
