"""The inline first step of a delivery, and the copied faust loop's provenance."""

from __future__ import annotations

import asyncio
import hashlib
import inspect

import faust
import pytest
from faust.transport.consumer import Consumer

from escalation.services.common.drain import COPIED_FROM, EagerDelivery, finish, first_step
from escalation.services.common.transports import TansuConsumer

FAUST_DRAIN_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


def test_the_copied_loop_is_faust_s_own_of_the_pinned_version():
    """A faust upgrade that changes its loop must be looked at: ours copies it."""
    assert faust.__version__ == COPIED_FROM
    source = inspect.getsource(Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_DRAIN_SHA256


def test_both_transports_deliver_eagerly():
    assert issubclass(TansuConsumer, EagerDelivery)
    assert TansuConsumer._drain_messages is EagerDelivery._drain_messages


async def test_a_delivery_that_does_not_wait_completes_inline():
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
    done, value = first_step(queue.put(1))
    assert done and value is None
    assert queue.get_nowait() == 1


async def test_a_delivery_that_waits_is_finished_in_order():
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    queue.put_nowait(1)
    delivery = queue.put(2)
    done, yielded = first_step(delivery)
    assert not done and isinstance(yielded, asyncio.Future)
    task = asyncio.ensure_future(finish(delivery, yielded))
    await asyncio.sleep(0)
    assert not task.done()  # the queue is still full
    assert await queue.get() == 1
    await asyncio.wait_for(task, 1)
    assert queue.get_nowait() == 2


async def test_a_waiting_delivery_that_is_cancelled_cleans_up_as_a_task_would():
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    queue.put_nowait(1)
    delivery = queue.put(2)
    _, yielded = first_step(delivery)
    task = asyncio.ensure_future(finish(delivery, yielded))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not queue._putters  # the put dropped its waiter: nothing will be delivered
    assert await queue.get() == 1 and queue.empty()


async def test_an_error_reaches_the_coroutine_that_waited_for_it():
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def deliver() -> int:
        try:
            return await future
        except KeyError:
            return -1

    delivery = deliver()
    _, yielded = first_step(delivery)
    assert yielded is future
    task = asyncio.ensure_future(finish(delivery, yielded))
    future.set_exception(KeyError("x"))
    assert await task == -1


async def test_a_bare_yield_to_the_loop_is_resumed():
    async def deliver() -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "delivered"

    delivery = deliver()
    done, yielded = first_step(delivery)
    assert not done and yielded is None
    assert await finish(delivery, yielded) == "delivered"
