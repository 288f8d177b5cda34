"""Which issues this escalator worker holds, and in which partition each one's state lives.

faust's table is keyed by issue and says nothing of partitions, and its in-memory store
keeps keys of partitions handed to another worker until it recovers again. So the
worker learns each key's partition where it sees it: from the changelog records table
recovery reads, and from each state the agent writes (the partition of the input it
read). A key neither path saw (a persistent store that read only the changelog's tail)
gets the partition Kafka's default partitioner gives its customer id, which is where
the contract puts every record about a customer.

It also answers the query API's questions (``query.IssueReader``): whether the worker is
settled, whether it holds a customer, and the states and timelines of that customer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import structlog
from aiokafka.partitioner import DefaultPartitioner

from escalation.schemas import codec
from escalation.schemas.state import IssueState
from escalation.schemas.timeline import Timeline

log = structlog.get_logger(__name__)

ISSUE_ID_LENGTH = 24
T = TypeVar("T")


class Holdings:
    def __init__(
        self,
        issues: Any,
        timelines: Any,
        partitions: int,
        held: Callable[[], set[int]],
        unsettled: Callable[[], str | None],
        holders: Callable[[int], str | None],
    ) -> None:
        self.issues = issues
        self.timelines = timelines
        self.partitions = partitions
        self.held = held
        self._unsettled = unsettled
        self._holders = holders
        self.partition_of: dict[bytes, int] = {}
        self._partitioner = DefaultPartitioner()
        self._all = list(range(partitions))

    # -- partitions ----------------------------------------------------------------------

    def learn(self, key: bytes, partition: int) -> None:
        self.partition_of[key] = partition

    def customer_partition(self, customer_id: str) -> int:
        return int(self._partitioner(customer_id.encode(), self._all, self._all))

    def partition(self, key: bytes, state: IssueState) -> int:
        known = self.partition_of.get(key)
        return known if known is not None else self.customer_partition(state.customer_id)

    def held_states(self) -> Iterator[tuple[bytes, int, IssueState]]:
        """Every issue of the partitions held now, with its partition (for the timers)."""
        held = self.held()
        for key, raw in list(self.issues.data.items()):
            if not raw:
                continue
            known = self.partition_of.get(key)
            if known is not None and known not in held:
                continue
            try:
                state = codec.decode_state(raw)
            except codec.DecodeError as exc:
                # A bug to fix, not a reason to stop every other issue's timers.
                log.error("escalator.state_unreadable", key=key, error=exc.detail)
                continue
            partition = self.partition(key, state)
            if partition in held:
                yield key, partition, state

    # -- the query API -------------------------------------------------------------------

    def unsettled(self) -> str | None:
        return self._unsettled()

    def holder_of(self, customer_id: str) -> str | None:
        partition = self.customer_partition(customer_id)
        if partition in self.held():
            return None
        holder = self._holders(partition)
        if holder is None:
            raise LookupError(f"no worker holds partition {partition} now")
        return holder

    # The table's store itself: faust's ``table.get`` raises and catches a KeyError for
    # every issue not yet held (most contacts) and calls its sensors on the way.
    def state(self, key: bytes) -> IssueState | None:
        return _ours(codec.decode_state, self.issues.data.get(key), key)

    def timeline(self, key: bytes) -> Timeline | None:
        return _ours(codec.decode_timeline, self.timelines.data.get(key), key)

    def issue_keys(self, customer_id: str) -> list[bytes]:
        """The customer's issues: a scan of the held keys (docs/decisions.md says why)."""
        prefix = f"{customer_id}/".encode()
        size = len(prefix) + ISSUE_ID_LENGTH
        keys = list(self.issues.data.keys())
        return [k for k in keys if len(k) == size and k.startswith(prefix)]


def _ours(decode: Callable[[bytes], T], raw: bytes | None, key: bytes) -> T | None:
    """Our own record decoded; unreadable, it is a bug, never the input's fault (no DLQ)."""
    if not raw:
        return None
    try:
        return decode(raw)
    except codec.DecodeError as exc:
        raise RuntimeError(f"stored record {key!r} does not decode: {exc.detail}") from exc
