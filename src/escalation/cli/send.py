"""``escalation send FILE.jsonl``: publish contact events through intake."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def lines_of(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if stripped and not stripped.startswith(b"#"):
                yield number, stripped


def send_file(
    path: Path,
    url: str,
    token: str | None = None,
    rate: float = 0.0,
    batch: int = 1,
    out=sys.stdout,
) -> tuple[int, int, int]:
    """Post every line; return (accepted, duplicates, rejected). Each rejection is printed."""
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

    with httpx.Client(timeout=30.0) as client:
        for number, line in lines_of(path):
            pending.append((number, line))
            if len(pending) >= batch:
                if interval:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                flush(client)
        if pending:
            flush(client)
    return accepted, duplicates, rejected


def send(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("ESCALATION_TOKEN")
    try:
        accepted, duplicates, rejected = send_file(
            args.file, args.url, token, args.rate, max(1, args.batch)
        )
    except httpx.HTTPError as exc:
        print(f"escalation send: cannot reach intake at {args.url}: {exc}", file=sys.stderr)
        return 2
    print(f"sent {args.file}: {accepted} accepted, {duplicates} duplicates, {rejected} rejected")
    return 1 if rejected else 0
