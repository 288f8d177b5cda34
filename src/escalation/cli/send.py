"""``escalation send FILE.jsonl``: publish contact events through intake."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from escalation.schemas import codec

from .progress import Progress

WEEK = timedelta(weeks=1)


def lines_of(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if stripped and not stripped.startswith(b"#"):
                yield number, stripped


def _occurred_at(line: bytes) -> datetime | None:
    """The line's occurred_at when it has one with an offset (intake refuses the rest)."""
    try:
        moment = datetime.fromisoformat(codec.loads_plain(line)["occurred_at"])
    except (ValueError, TypeError, KeyError):
        return None
    return moment if moment.utcoffset() is not None else None


def shifted_to_now(lines: list[tuple[int, bytes]], now: datetime) -> list[tuple[int, bytes]]:
    """Every occurred_at moved by the same whole number of weeks, the latest into the
    past week: a recorded story told today keeps its spacing, weekdays and local times
    (intake refuses event times more than a year from its clock)."""
    moments = [m for _, line in lines if (m := _occurred_at(line)) is not None]
    if not moments:
        return lines
    shift = WEEK * ((now - max(moments)) // WEEK)
    out = []
    for number, line in lines:
        moment = _occurred_at(line)
        if moment is not None:
            event = codec.loads_plain(line)
            event["occurred_at"] = (moment + shift).isoformat()
            line = codec.dumps(event)
        out.append((number, line))
    return out


def send_file(
    path: Path,
    url: str,
    token: str | None = None,
    rate: float = 0.0,
    batch: int = 1,
    out=sys.stdout,
    shift_to_now: bool = False,
    progress: Callable[[int], Progress] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> tuple[int, int, int]:
    """Post every line; return (accepted, duplicates, rejected). Each rejection is printed.

    ``progress`` makes the progress display for a file of that many events.
    """
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    accepted = duplicates = rejected = 0
    interval = batch / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    pending: list[tuple[int, bytes]] = []

    def flush(client: httpx.Client) -> None:
        nonlocal accepted, duplicates, rejected
        body = (
            pending[0][1] if len(pending) == 1 else b"[" + b",".join(b for _, b in pending) + b"]"
        )
        first, last = pending[0][0], pending[-1][0]
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        for attempt in range(5):
            response = client.post(f"{url.rstrip('/')}/v1/contacts", content=body, headers=headers)
            if response.status_code not in (429, 503):
                break
            time.sleep(float(response.headers.get("retry-after", "1")) * (attempt + 1))
        if response.status_code == 202:
            result = response.json()
            accepted += len(result["accepted"])
            duplicates += len(result["duplicates"])
        else:
            rejected += len(pending)
            print(f"{path}:{where}: {response.status_code} {response.text}", file=out)
        pending.clear()

    lines = list(lines_of(path))
    if shift_to_now:
        lines = shifted_to_now(lines, datetime.now(UTC))
    shown = progress(len(lines)) if progress else None
    with httpx.Client(timeout=30.0, transport=transport) as client:
        for sent, (number, line) in enumerate(lines, start=1):
            pending.append((number, line))
            if len(pending) >= batch:
                if interval:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                flush(client)
                if shown:
                    shown.update(sent)
        if pending:
            flush(client)
    if shown:
        shown.update(len(lines))
        shown.close()
    return accepted, duplicates, rejected


def send(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("ESCALATION_TOKEN")
    try:
        accepted, duplicates, rejected = send_file(
            args.file,
            args.url,
            token,
            args.rate,
            max(1, args.batch),
            shift_to_now=args.shift_to_now,
            progress=lambda total: Progress(total, f"send {args.file.name}"),
        )
    except httpx.HTTPError as exc:
        print(f"escalation send: cannot reach intake at {args.url}: {exc}", file=sys.stderr)
        return 2
    print(f"sent {args.file}: {accepted} accepted, {duplicates} duplicates, {rejected} rejected")
    return 1 if rejected else 0
