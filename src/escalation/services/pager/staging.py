"""One batch's changes to the pager's table, staged, then written through its changelog.

The pager's agents take their inputs in batches (``stream.noack_take``), where faust's
``table[k] = v`` raises (no current event), and a write through faust would not be
awaited anyway. So a batch's handlers see the table through :class:`Staged`: reads
fall through to the table unless the batch changed the key, writes and deletes are
kept with the input they belong to (its partition is the changelog's), and
:meth:`Staged.writes` hands them to ``BatchWriter.write_tables``: every changelog record
acknowledged first, the store written after (``services/common/batches.py`` says why).
A delete is a tombstone, as faust writes one.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from faust import streams
from faust.types import EventT

from escalation.services.common.batches import Outgoing, TableWrite


@dataclass(frozen=True)
class _Message:
    partition: int


class InPartition:
    """What a table write needs of an input, where there is none (a lane's outcome, booked
    by the ``Reporter``): the partition its changelog record and store belong to."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, partition: int) -> None:
        self.message = _Message(partition)


@dataclass(frozen=True)
class TableDelete:
    """A key's removal from ``table`` in ``event``'s partition: a tombstone, then the store."""

    table: Any
    event: EventT
    key: bytes

    def record(self) -> Outgoing:
        changelog = self.table.changelog_topic.get_topic_name()
        return Outgoing(changelog, self.event.message.partition, self.key, None)  # type: ignore[arg-type]

    def store(self) -> None:
        token = streams._current_event.set(weakref.ref(self.event))
        try:
            del self.table.data[self.key]
        except KeyError:
            pass
        finally:
            streams._current_event.reset(token)


class Staged(MutableMapping[bytes, bytes]):
    """The table as one batch sees it; ``event`` is the input being handled now.

    Reads fall through to the table's store (``table.data``), not to faust's
    ``Table.get``, which raises and catches a KeyError for every absent key (most keys a
    batch reads are new) and counts each read in its sensors: writes bypass it already.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self.store: Any = getattr(table, "data", table)
        self.event: EventT | InPartition | None = None
        self.changes: dict[bytes, tuple[Any, bytes | None]] = {}
        self._undo: list[tuple[bytes, tuple[Any, bytes | None] | None]] = []

    def begin(self) -> None:
        """Start the changes of one input: ``rollback`` undoes them, and only them."""
        self._undo.clear()

    def rollback(self) -> None:
        for key, before in reversed(self._undo):
            if before is None:
                self.changes.pop(key, None)
            else:
                self.changes[key] = before
        self._undo.clear()

    def _change(self, key: bytes, value: bytes | None) -> None:
        assert self.event is not None, "a staged change belongs to an input"
        self._undo.append((key, self.changes.get(key)))
        self.changes[key] = (self.event, value)

    def get(self, key: bytes, default: Any = None) -> Any:
        if key in self.changes:
            value = self.changes[key][1]
            return default if value is None else value
        store = self.store
        return store[key] if key in store else default  # noqa: SIM401 - get raises KeyError inside

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._change(key, value)

    def __delitem__(self, key: bytes) -> None:
        self._change(key, None)

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("a batch reads keys it knows; recovery scans the table itself")

    def __len__(self) -> int:
        raise TypeError("a batch reads keys it knows; recovery scans the table itself")

    def writes(self) -> list[TableWrite | TableDelete]:
        """The batch's changes, in the order they were first made, for ``write_tables``."""
        return [
            TableWrite(self.table, event, key, value)
            if value is not None
            else TableDelete(self.table, event, key)
            for key, (event, value) in self.changes.items()
        ]
