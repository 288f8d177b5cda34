"""``escalation policy check|explain``."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from escalation.policy import NoLoads, PolicyError, RoutingEngine, load_policy
from escalation.policy.targets import check_targets
from escalation.schemas import codec
from escalation.services.escalator.effects import spoken


def report_refused(source: object, problems: list[str], context: str) -> None:
    """The pager's refusals, apart from the file's errors: the file itself is valid."""
    print(
        f"{source}: valid, but the pager would refuse {len(problems)} target problem(s) "
        f"in {context}:",
        file=sys.stderr,
    )
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


def check(args: argparse.Namespace) -> int:
    """Exit 1 on any error in the file or any target the pager would refuse."""
    try:
        loaded = load_policy(args.file)
    except PolicyError as exc:
        print(f"{exc.source}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    policy = loaded.policy
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.embedded:
        from escalation.cli.up import embedded_env

        environ, context = embedded_env(args.file), "the environment of `escalation up`"
    else:
        environ, context = dict(os.environ), "this environment"
    _, refused = check_targets(policy, environ)
    if refused:
        report_refused(args.file, refused, context)
        return 1
    print(
        f"{args.file}: ok (version {loaded.version}): {len(policy.owners)} owners, "
        f"{len(policy.teams)} teams, {len(policy.schedules)} schedules, "
        f"{len(policy.routes)} routes, {len(policy.targets)} targets "
        f"(the pager accepts them all in {context})"
    )
    return 0


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"--at {text!r} needs a UTC offset, e.g. 2026-11-25T09:00:00-05:00")
    return moment


def explain(args: argparse.Namespace) -> int:
    try:
        loaded = load_policy(args.file)
        event = codec.decode_contact(args.event.read_bytes())
    except PolicyError as exc:
        print("\n".join([str(exc)]), file=sys.stderr)
        return 1
    except codec.DecodeError as exc:
        print(f"{args.event}: {exc.detail}", file=sys.stderr)
        for err in exc.errors:
            print(f"  {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 1
    try:
        now = _moment(args.at)
    except ValueError as exc:
        print(f"escalation policy explain: {exc}", file=sys.stderr)
        return 2
    engine = RoutingEngine(loaded)
    routing = engine.decide(event, now, None, NoLoads()).routing
    if args.json:
        print(routing.model_dump_json(indent=2))
        return 0
    print(f"at:     {now.isoformat()}  (policy {loaded.version})")
    print(f"route:  {routing.route}{'  (fallback)' if routing.fallback else ''}")
    print(
        f"owner:  {routing.owner} (team {routing.team}, authority {routing.authority_held} "
        f">= required {routing.authority_required})"
    )
    print(f"pages:  {', '.join(routing.targets) or '-'}")
    esc = routing.escalation
    print(
        f"escalates: at {esc.repeat_threshold} contacts within "
        f"{esc.repeat_window_seconds / 3600:g}h"
        + ("; at once when critical" if esc.page_on_critical else "")
    )
    if esc.ladder:
        steps = [
            f"{spoken(s.after_seconds)} {s.notify}{' ' + s.to if s.to else ''}"
            + (f" (x{s.repeat + 1}, every {spoken(s.every_seconds)})" if s.every_seconds else "")
            for s in esc.ladder
        ]
        timeout = esc.ack_timeout_seconds
        print(
            f"ladder: {'; '.join(steps)}" + (f"; ack timeout {spoken(timeout)}" if timeout else "")
        )
    print("why:")
    for reason in routing.reasons:
        print(f"  - {reason}")
    return 0
