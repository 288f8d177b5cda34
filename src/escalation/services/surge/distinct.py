"""Distinct counting in bounded memory: an exact set while small, HyperLogLog past it.

A surge threshold is typically ten or twenty customers, so the common case is counted
exactly: up to ``EXACT_LIMIT`` 62-bit digests (8 bytes each). Past that a set would grow
with the traffic, so it turns into a HyperLogLog of ``REGISTERS`` one-byte registers
(Flajolet et al. 2007, with the linear-counting correction for small counts): at most
512 bytes whatever the count, with a relative standard error of 1.04/sqrt(512), about
4.6 %. Adding the same customer twice changes nothing in either form, so a contact read
again after a crash or rebalance counts once; a union of sets and sketches is a sketch
with each register the largest, so windows merge without double counting.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable

from escalation.schemas.surge_state import Distinct

EXACT_LIMIT = 64
"""Digests kept exactly; past this the set becomes a sketch (docs/decisions.md)."""
PRECISION = 9
REGISTERS = 1 << PRECISION
RELATIVE_ERROR = 1.04 / math.sqrt(REGISTERS)
_MASK = (1 << 62) - 1
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)
_WIDTH = 62 - PRECISION


def token(text: str) -> int:
    """A 62-bit digest of an id: what the sets hold and the sketch hashes."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest()) & _MASK


def _rank(digest: int) -> int:
    rest = digest >> PRECISION
    return _WIDTH - rest.bit_length() + 1


def _exact(distinct: Distinct) -> bool:
    # A sketch is its registers: read back from the changelog it has ``ids=[]`` (the
    # field's default), since its null ``ids`` is left out when written.
    return distinct.registers is None


def _registers(distinct: Distinct) -> bytearray:
    if distinct.registers is not None:
        return bytearray(base64.b64decode(distinct.registers))
    registers = bytearray(REGISTERS)
    for digest in distinct.ids or ():
        index = digest & (REGISTERS - 1)
        registers[index] = max(registers[index], _rank(digest))
    return registers


def _sketch(registers: bytearray) -> Distinct:
    return Distinct(ids=None, registers=base64.b64encode(bytes(registers)).decode())


def add(distinct: Distinct, digest: int) -> tuple[Distinct, bool]:
    """``distinct`` with ``digest`` in it, and whether that changed it (a new member)."""
    if _exact(distinct):
        known = distinct.ids or []
        if digest in known:
            return distinct, False
        ids = [*known, digest]
        if len(ids) <= EXACT_LIMIT:
            return Distinct(ids=ids), True
        return _sketch(_registers(Distinct(ids=ids))), True
    registers = _registers(distinct)
    index = digest & (REGISTERS - 1)
    rank = _rank(digest)
    if registers[index] >= rank:
        return distinct, False  # most likely seen before: a sketch cannot tell for sure
    registers[index] = rank
    return _sketch(registers), True


def estimate(registers: bytearray) -> int:
    total = sum(2.0**-r for r in registers)
    raw = _ALPHA * REGISTERS * REGISTERS / total
    zeros = registers.count(0)
    if raw <= 2.5 * REGISTERS and zeros:
        raw = REGISTERS * math.log(REGISTERS / zeros)
    return round(raw)


def count(distinct: Distinct) -> int:
    if _exact(distinct):
        return len(distinct.ids or ())
    return estimate(_registers(distinct))


def union_count(parts: Iterable[Distinct]) -> int:
    """How many distinct members the parts hold together (exact while every part is)."""
    parts = list(parts)
    if all(_exact(p) for p in parts):
        members: set[int] = set()
        for part in parts:
            members.update(part.ids or ())
        if len(members) <= EXACT_LIMIT * 4:
            return len(members)
    merged = bytearray(REGISTERS)
    for part in parts:
        for index, value in enumerate(_registers(part)):
            if value > merged[index]:
                merged[index] = value
    return estimate(merged)
