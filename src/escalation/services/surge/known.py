"""The product states this worker wrote last, kept decoded beside their bytes.

A busy product's state is several kilobytes (its window's buckets, its latest
reporters, each with a time), and the ``count`` agent read it back for every report:
decoding it was about half of a report's CPU. The worker wrote those very bytes, so
when the table still holds them (compared byte for byte: a rebalance or recovery that
wrote anything else is decoded afresh) the state it decided is the state it would
read. Models are frozen, so sharing one is safe. The oldest entry leaves first once
``limit`` products are kept.

Only a state that reads back as itself is kept: the encoder leaves nulls out, and a
field whose default is not null would come back as that default. In a product's state
that is only a sketch's ``ids``, which every reader ignores (``distinct.py``); the
escalation settings write their meaningful nulls (``schemas/routed.py``).
"""

from __future__ import annotations

from escalation.schemas import codec
from escalation.schemas.surge_state import ProductState

LIMIT = 256
"""Products kept decoded: a busy product's state is about 40 KB as Python objects, so
at most some 10-15 MB; the products reported most often stay in."""


class KnownStates:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._known: dict[bytes, tuple[bytes, ProductState]] = {}

    def read(self, key: bytes, raw: bytes | None) -> ProductState | None:
        """The state ``raw`` holds: the one written last when these are its bytes."""
        if raw is None:
            return None
        known = self._known.get(key)
        if known is not None and (known[0] is raw or known[0] == raw):
            return known[1]
        return codec.decode_product_state(raw)

    def wrote(self, key: bytes, raw: bytes, state: ProductState) -> None:
        self._known.pop(key, None)  # re-inserted last: the oldest leaves first
        if len(self._known) >= self.limit:
            self._known.pop(next(iter(self._known)))
        self._known[key] = (raw, state)
