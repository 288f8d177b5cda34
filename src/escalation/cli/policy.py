"""``escalation policy check|explain``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from escalation.schemas import codec
from escalation.services.router.policy import PolicyError, load_policy, route_contact


def check(args: argparse.Namespace) -> int:
    try:
        loaded = load_policy(args.file)
    except PolicyError as exc:
        print(f"{exc.source}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    policy = loaded.policy
    print(
        f"{args.file}: ok (version {loaded.version}): {len(policy.owners)} owners, "
        f"{len(policy.teams)} teams, {len(policy.routes)} routes, "
        f"{len(policy.targets)} targets"
    )
    return 0


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
    routing = route_contact(loaded, event, datetime.now(UTC))
    if args.json:
        print(routing.model_dump_json(indent=2))
        return 0
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
    print("why:")
    for reason in routing.reasons:
        print(f"  - {reason}")
    return 0
