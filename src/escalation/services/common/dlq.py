"""What every dead letter carries besides the original bytes: why, and where it came from."""

from __future__ import annotations

import time


def dead_letter_headers(
    original: dict[str, bytes],
    topic: str,
    partition: int,
    offset: int,
    reason: str,
    error: BaseException | str,
) -> list[tuple[str, bytes]]:
    """The original headers plus ``error``, ``error-type`` and the source coordinates."""
    headers = dict(original)
    headers.update(
        {
            "error": str(error)[:4000].encode(),
            "error-type": reason.encode(),
            "source-topic": topic.encode(),
            "source-partition": str(partition).encode(),
            "source-offset": str(offset).encode(),
            "dead-lettered-at": str(int(time.time() * 1000)).encode(),
        }
    )
    return list(headers.items())
