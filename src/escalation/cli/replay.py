"""``escalation policy replay F HISTORY.jsonl [--against OLD.yaml] [--json]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from escalation.policy import PolicyError, load_policy
from escalation.replay import Outcome, Simulation, Tally
from escalation.schemas import ContactEvent, EscalationCommand, codec
from escalation.services.common.runner import tune_gc

from .progress import Progress

SHOWN_CHANGES = 50


def events(
    path: Path, bad: list[str], progress: Progress
) -> Iterator[tuple[int, ContactEvent | EscalationCommand]]:
    """Stream contact events, and recorded commands, from JSONL; report and skip bad lines."""
    done = count = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            done += len(line)
            stripped = line.strip()
            if not stripped or stripped.startswith(b"#"):
                continue
            try:
                event: ContactEvent | EscalationCommand = codec.decode_contact(stripped)
            except codec.DecodeError as exc:
                command = _command(stripped)
                if command is None:
                    bad.append(f"{path}:{number}: {exc.detail}")
                    continue
                event = command
            count += 1
            progress.update(done, count)
            yield number, event


def _command(line: bytes) -> EscalationCommand | None:
    """A line that is a command (``escalation.commands.v1``) rather than a contact."""
    if b'"command_id"' not in line:
        return None
    try:
        return codec.decode_command(line)
    except codec.DecodeError:
        return None


def _decision(number: int, event: ContactEvent, outcome: Outcome) -> dict[str, Any]:
    routing = outcome.routing
    return {
        "line": number,
        "event_id": event.event_id,
        "route": routing.route,
        "owner": routing.owner,
        "team": routing.team,
        "fallback": routing.fallback,
        "sticky": routing.sticky,
        "duplicate": outcome.duplicate,
        "escalations": outcome.escalations,
    }


def _change(number: int, event: ContactEvent, new: Outcome, old: Outcome) -> dict[str, Any]:
    return {
        "line": number,
        "event_id": event.event_id,
        "route": [old.routing.route, new.routing.route],
        "owner": [old.routing.owner, new.routing.owner],
        "escalations": [old.escalations, new.escalations],
    }


def replay(args: argparse.Namespace) -> int:
    try:
        current = Simulation(load_policy(args.file))
        against = Simulation(load_policy(args.against)) if args.against else None
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    tune_gc()
    bad: list[str] = []
    changes: list[dict[str, Any]] = []
    progress = Progress(args.history.stat().st_size, f"replay {args.history.name}")
    decisions = args.decisions.open("wb") if getattr(args, "decisions", None) else None
    started = time.perf_counter()
    for number, event in events(args.history, bad, progress):
        if isinstance(event, EscalationCommand):
            current.command(event)
            if against is not None:
                against.command(event)
            continue
        outcome = current.feed(event)
        if decisions is not None:
            decisions.write(codec.dumps(_decision(number, event, outcome)) + b"\n")
        if against is not None:
            old = against.feed(event)
            if (old.routing.route, old.routing.owner, old.escalations) != (
                outcome.routing.route,
                outcome.routing.owner,
                outcome.escalations,
            ):
                changes.append(_change(number, event, outcome, old))
    progress.update(progress.total, progress.count)  # the file is read to its end
    progress.close()
    elapsed = time.perf_counter() - started
    if decisions is not None:
        decisions.close()
    for line in bad:
        print(line, file=sys.stderr)
    report = _report(current, against, changes, bad, elapsed)
    if args.json:
        sys.stdout.write(codec.dumps(report).decode() + "\n")
    else:
        _print(report)
    return 0


def _table(tally: Tally) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    keys = set(tally.contacts) | set(tally.escalations) | set(tally.pages)
    for dimension, value in sorted(keys):
        out.setdefault(dimension, {})[value] = {
            "contacts": tally.contacts[(dimension, value)],
            "escalations": tally.escalations[(dimension, value)],
            "pages": tally.pages[(dimension, value)],
        }
    return out


def _commands(tally: Tally) -> dict[str, dict[str, int]]:
    """Recorded commands by action and what they did (``unknown``: no such escalation)."""
    out: dict[str, dict[str, int]] = {}
    for (action, outcome), n in sorted(tally.commands.items()):
        out.setdefault(action, {})[outcome] = n
    return out


def _report(
    current: Simulation,
    against: Simulation | None,
    changes: list[dict[str, Any]],
    bad: list[str],
    elapsed: float,
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "policy": current.engine.loaded.version,
        "events": current.fed,
        "bad_lines": len(bad),
        "seconds": round(elapsed, 3),
        "by": _table(current.tally),
        "commands": _commands(current.tally),
        "surges": [s.as_dict() for s in current.surges.surges.values()],
        "holds": current.holds.report.as_dict(),
    }
    if against is not None:
        report["against"] = {
            "policy": against.engine.loaded.version,
            "by": _table(against.tally),
            "commands": _commands(against.tally),
            "holds": {"by": against.holds.report.by_holder()},
        }
        report["changes"] = changes
    return report


def _print(report: dict[str, Any]) -> None:
    rate = report["events"] / report["seconds"] if report["seconds"] else 0
    print(
        f"policy {report['policy']}: {report['events']:,} events replayed "
        f"({rate:,.0f}/s), {report['bad_lines']} bad line(s) skipped"
    )
    old = report.get("against", {}).get("by", {})
    for dimension, rows in report["by"].items():
        print(f"\nby {dimension}:")
        print(f"  {'':<24}{'contacts':>10}{'escalations':>13}{'pages':>8}")
        for value, counts in rows.items():
            line = (
                f"  {value:<24}{counts['contacts']:>10,}{counts['escalations']:>13,}"
                f"{counts['pages']:>8,}"
            )
            before = old.get(dimension, {}).get(value)
            if old:
                before = before or {"contacts": 0, "escalations": 0, "pages": 0}
                line += "   was " + "/".join(
                    f"{before[k]:,}" for k in ("contacts", "escalations", "pages")
                )
            print(line)
    if report["commands"]:
        print("\ncommands:")
        for action, outcomes in report["commands"].items():
            said = ", ".join(f"{outcome} {n:,}" for outcome, n in outcomes.items())
            print(f"  {action:<24}{said}")
    _print_surges(report["surges"])
    _print_holds(report["holds"], report.get("against", {}).get("holds"))
    if "changes" in report:
        changes = report["changes"]
        print(
            f"\n{len(changes):,} event(s) decided differently than under "
            f"{report['against']['policy']}:"
        )
        for change in changes[:SHOWN_CHANGES]:
            print(
                f"  line {change['line']} {change['event_id']}: "
                f"route {change['route'][0]} -> {change['route'][1]}, "
                f"owner {change['owner'][0]} -> {change['owner'][1]}"
                + (
                    f", escalations {change['escalations'][0]} -> {change['escalations'][1]}"
                    if change["escalations"][0] != change["escalations"][1]
                    else ""
                )
            )
        if len(changes) > SHOWN_CHANGES:
            print(f"  ... and {len(changes) - SHOWN_CHANGES:,} more (--json lists all)")


def _print_surges(surges: list[dict[str, Any]]) -> None:
    if not surges:
        return
    print("\nsurges:")
    for surge in surges:
        closed = surge["closed_at"] or "still open"
        print(
            f"  {surge['rule']} {surge['by']} {surge['value']}: {surge['customers']:,} customers, "
            f"{surge['issues']:,} issues, {surge['held_pages']:,} page(s) held; "
            f"opened {surge['opened_at']}, closed {closed} (baseline {surge['baseline']:g})"
        )
        print(f"    {', '.join(surge['named'])}")


def _print_holds(holds: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Pages silences and quiet hours held, per silence; then each page and its wait."""
    if not holds["by"] and not (old and old["by"]):
        return
    print("\nheld pages (silences, maintenance windows, quiet hours):")
    kinds = ("held", "released", "dropped", "superseded", "waiting")
    print(f"  {'':<32}" + "".join(f"{kind:>11}" for kind in kinds))
    none = dict.fromkeys(kinds, 0)
    for holder in sorted(set(holds["by"]) | set(old["by"] if old else ())):
        counts = holds["by"].get(holder, none)
        line = f"  {holder:<32}" + "".join(f"{counts[kind]:>11,}" for kind in kinds)
        if old is not None:
            before = old["by"].get(holder, none)
            line += "   was " + "/".join(f"{before[kind]:,}" for kind in kinds)
        print(line)
    for page in holds["pages"][:SHOWN_CHANGES]:
        until = f" until {page['until']}" if page["until"] else ""
        ended = f" at {page['ended_at']}" if page["ended_at"] else ""
        print(
            f"  {page['escalation_id']} level {page['level']}: held by {page['held_by']} "
            f"from {page['held_at']}{until}; {page['outcome']}{ended}"
        )
    if len(holds["pages"]) > SHOWN_CHANGES:
        print(f"  ... and {len(holds['pages']) - SHOWN_CHANGES:,} more (--json lists all)")
