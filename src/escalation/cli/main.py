"""The ``escalation`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from escalation import __version__


def _settings(**overrides: object):
    from escalation.services.common.settings import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _configure(service: str, settings) -> None:
    from escalation.services.common.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format, service)


def cmd_service(args: argparse.Namespace) -> int:
    from escalation.services.common import crashpoints
    from escalation.services.common.faults import EXIT_DEPENDENCY, DependencyFailed
    from escalation.services.common.runner import run_async, run_stream_service

    settings = _settings(policy=args.policy)
    if args.command in ("intake", "pager"):
        settings.link_key_values()  # they sign and verify links: production needs a key
    _configure(args.command, settings)
    crashpoints.arm(settings.crash_at)  # None unless a crash test set ESCALATION_CRASH_AT
    try:
        if args.command == "router":
            from escalation.services.router.app import run as run_router

            run_async(run_router(settings))
        elif args.command == "intake":
            from escalation.services.intake.app import run

            run_async(run(settings))
        elif args.command == "sink":
            from escalation.services.pager.sink import run as run_sink

            secret = settings.sink_secret.get_secret_value() if settings.sink_secret else None
            if not secret:
                print("escalation sink: set ESCALATION_SINK_SECRET (whsec_...)", file=sys.stderr)
                return 2
            run_async(run_sink(settings.web_host, settings.sink_port, secret))
        else:
            import importlib

            module = importlib.import_module(f"escalation.services.{args.command}.app")
            run_stream_service(module.build, settings)
    except DependencyFailed as exc:
        # Logged where it happened; nothing was committed, so a restart reads it again.
        print(f"escalation {args.command}: {exc}; exiting to be restarted", file=sys.stderr)
        return EXIT_DEPENDENCY
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from escalation.cli.up import up

    return up(args)


def cmd_send(args: argparse.Namespace) -> int:
    from escalation.cli.send import send

    return send(args)


def cmd_policy(args: argparse.Namespace) -> int:
    from escalation.cli.policy import check, explain
    from escalation.cli.replay import replay

    return {"check": check, "explain": explain, "replay": replay}[args.policy_command](args)


def cmd_token(args: argparse.Namespace) -> int:
    import json

    from escalation.services.intake.auth import digest, new_token

    token = new_token()
    scopes = sorted(set(args.scope or ["contacts"]))
    grant = digest(token) if scopes == ["contacts"] else {"digest": digest(token), "scopes": scopes}
    print(f"token (give to {args.name}, shown once): {token}")
    print(f"settings: ESCALATION_INTAKE_TOKENS='{json.dumps({args.name: grant})}'")
    return 0


def cmd_link_key(args: argparse.Namespace) -> int:
    from escalation.services.common.links import new_key

    print(f"ESCALATION_LINK_KEYS={new_key()}")
    print("(to rotate: put the new key first, keep the old one after it until its links expire)")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from escalation.policy.jsonschema import (
        POLICY_SCHEMA_PATH,
        render_policy_schema,
    )
    from escalation.schemas.jsonschema import export

    POLICY_SCHEMA_PATH.write_text(render_policy_schema())
    for path in [*export(), POLICY_SCHEMA_PATH]:
        print(f"wrote {path.name}")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    import asyncio

    from escalation.services.common.broker import ensure_topics
    from escalation.services.common.topics import catalogue

    settings = _settings(
        kafka_bootstrap=args.bootstrap,
        kafka_replication_factor=args.replication_factor,
        kafka_min_insync_replicas=args.min_insync_replicas,
    )
    try:
        created = asyncio.run(
            ensure_topics(
                settings.kafka_common(),
                catalogue(settings.kafka_partitions),
                replication_factor=settings.replication_factor,
                min_insync_replicas=settings.min_insync_replicas,
            )
        )
    except (RuntimeError, TimeoutError) as exc:
        print(f"escalation topics: {exc}", file=sys.stderr)
        return 1
    print(
        f"created {len(created)} topic(s) with replication factor "
        f"{settings.replication_factor}, min.insync.replicas {settings.min_insync_replicas}: "
        f"{', '.join(created) or '-'}"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="escalation", description=__doc__)
    p.add_argument("--version", action="version", version=f"escalation {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole embedded stack in the foreground")
    up.add_argument("--policy", type=Path, default=Path("config/policy.example.yaml"))
    up.add_argument("--demo", action="store_true", help="send config/demo.jsonl once ready")
    up.add_argument("--demo-file", type=Path, default=Path("config/demo.jsonl"))
    up.add_argument(
        "--port-base",
        type=int,
        default=8080,
        help="intake on N, router N+1, escalator N+2, pager N+3, sink N+4, surge N+5, broker N+12",
    )
    up.add_argument("--partitions", type=int, default=None)
    up.set_defaults(func=cmd_up)

    for name, text in (
        ("intake", "HTTP intake"),
        ("router", "router (contacts.v1 -> contacts.routed.v1)"),
        ("escalator", "escalator stream service"),
        ("pager", "pager stream service"),
        ("surge", "surge stream service (distinct customers per product)"),
        ("sink", "local page receiver"),
    ):
        s = sub.add_parser(name, help=f"run the {text} in the foreground")
        s.add_argument("--policy", type=Path, default=None)
        s.set_defaults(func=cmd_service)

    send = sub.add_parser("send", help="publish contact events from a JSONL file via intake")
    send.add_argument("file", type=Path)
    send.add_argument("--url", default="http://127.0.0.1:8080")
    send.add_argument("--rate", type=float, default=0.0, help="events/s (0: as fast as acked)")
    send.add_argument("--token", default=None, help="bearer token (or ESCALATION_TOKEN)")
    send.add_argument("--batch", type=int, default=1, help="events per request")
    send.add_argument(
        "--shift-to-now",
        action="store_true",
        help="move every occurred_at by whole weeks so the latest is within the past week",
    )
    send.set_defaults(func=cmd_send)

    policy = sub.add_parser("policy", help="check or explain a routing policy")
    psub = policy.add_subparsers(dest="policy_command", required=True)
    check = psub.add_parser(
        "check",
        help="validate; exit 1 listing every error and every target the pager would refuse",
    )
    check.add_argument("file", type=Path)
    check.add_argument(
        "--embedded",
        action="store_true",
        help="check targets against the environment `escalation up` gives its services "
        "instead of this one",
    )
    explain = psub.add_parser("explain", help="print the routing decision for one event")
    explain.add_argument("file", type=Path)
    explain.add_argument("event", type=Path)
    explain.add_argument("--json", action="store_true")
    explain.add_argument("--at", default=None, help="decide as at this RFC 3339 time")
    replay = psub.add_parser(
        "replay", help="what the policy would have routed, escalated and paged over history"
    )
    replay.add_argument("file", type=Path)
    replay.add_argument("history", type=Path, help="JSONL of contact events (as `send` takes)")
    replay.add_argument(
        "--against",
        type=Path,
        default=None,
        help="an older policy: report the difference, event by event",
    )
    replay.add_argument("--json", action="store_true")
    replay.add_argument(
        "--decisions",
        type=Path,
        default=None,
        help="write each event's decision (route, owner, fallback, sticky, escalations) as JSONL",
    )
    policy.set_defaults(func=cmd_policy)

    token = sub.add_parser("token", help="issue an intake bearer token")
    token.add_argument("new", choices=["new"])
    token.add_argument("name", help="the source it posts contacts as, or who acts with it")
    token.add_argument(
        "--scope",
        action="append",
        choices=["contacts", "escalations"],
        help="what it may do (repeatable; default contacts: post contacts as NAME)",
    )
    token.set_defaults(func=cmd_token)

    link_key = sub.add_parser("link-key", help="make a key that signs ack and resolve links")
    link_key.add_argument("new", choices=["new"])
    link_key.set_defaults(func=cmd_link_key)

    schemas = sub.add_parser("schemas", help="write the JSON Schema files from the models")
    schemas.add_argument("export", choices=["export"])
    schemas.set_defaults(func=cmd_schemas)

    from escalation.cli.dlq import add_parser as add_dlq

    add_dlq(sub)

    topics = sub.add_parser("topics", help="create every topic on a Kafka cluster")
    topics.add_argument("create", choices=["create"])
    topics.add_argument("--bootstrap", default=None)
    topics.add_argument(
        "--replication-factor",
        type=int,
        default=None,
        help="replicas per topic (default: ESCALATION_KAFKA_REPLICATION_FACTOR, else 3 in "
        "the production profile, 1 embedded)",
    )
    topics.add_argument(
        "--min-insync-replicas",
        type=int,
        default=None,
        help="min.insync.replicas per topic (default: ESCALATION_KAFKA_MIN_INSYNC_REPLICAS, "
        "else 2 production, 1 embedded)",
    )
    topics.set_defaults(func=cmd_topics)
    return p


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    from escalation.services.common.credentials import MissingSetting

    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except MissingSetting as exc:
        print("escalation: invalid settings (ESCALATION_* environment variables):", file=sys.stderr)
        print(f"  {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        print("escalation: invalid settings (ESCALATION_* environment variables):", file=sys.stderr)
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            name = f"ESCALATION_{where.upper()}" if error["loc"] else where
            print(f"  {name}: {error['msg']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
