"""``escalation up``: the embedded stack in the foreground (broker, services, page sink)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from escalation.cli.policy import report_refused
from escalation.policy import PolicyError, load_policy
from escalation.policy.targets import check_targets
from escalation.services.common.links import new_key
from escalation.services.common.settings import Settings
from escalation.services.common.supervisor import Child, Supervisor
from escalation.services.pager.signing import new_secret

SERVICES = ("sink", "pager", "escalator", "surge", "router", "intake")
OFFSETS = {
    "intake": 0,
    "router": 1,
    "escalator": 2,
    "pager": 3,
    "sink": 4,
    "surge": 5,
    "broker": 12,
}


def _ports(base: int) -> dict[str, int]:
    return {name: base + offset for name, offset in OFFSETS.items()}


def child_env(
    ports: dict[str, int],
    policy: Path,
    bootstrap: str,
    data_dir: Path,
    secret: str,
    partitions: int,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_")}
    sink_url = f"http://127.0.0.1:{ports['sink']}/pages"
    env.update(
        {
            "ESCALATION_PROFILE": "embedded",
            "ESCALATION_KAFKA_BOOTSTRAP": bootstrap,
            "ESCALATION_KAFKA_PARTITIONS": str(partitions),
            "ESCALATION_POLICY": str(policy.resolve()),
            "ESCALATION_INTAKE_PORT": str(ports["intake"]),
            "ESCALATION_ROUTER_PORT": str(ports["router"]),
            "ESCALATION_ESCALATOR_PORT": str(ports["escalator"]),
            "ESCALATION_PAGER_PORT": str(ports["pager"]),
            "ESCALATION_SURGE_PORT": str(ports["surge"]),
            "ESCALATION_SINK_PORT": str(ports["sink"]),
            "ESCALATION_SINK_SECRET": secret,
            "ESCALATION_TARGET_SINK_URL": sink_url,
            "ESCALATION_PAGE_SINK_SECRET": secret,
            # The pager signs ack/resolve links, intake verifies: the user's keys, else
            # one made for this run (links then die with it).
            "ESCALATION_LINK_KEYS": os.environ.get("ESCALATION_LINK_KEYS") or new_key(),
            "ESCALATION_DATA_DIR": str(data_dir),
            "ESCALATION_LOG_FORMAT": "json",
        }
    )
    # Tokens, link keys and other ESCALATION_ settings the user set pass through unchanged.
    env.update(
        {k: v for k, v in os.environ.items() if k.startswith("ESCALATION_") and k not in env}
    )
    return env


def embedded_env(policy: Path, port_base: int = 8080, partitions: int = 2) -> dict[str, str]:
    """The environment ``escalation up`` gives its services, with a fresh page-sink secret.

    ``policy check --embedded`` checks the pager's targets against it: the page sink's
    URL and secret exist only there, not in the shell that runs ``up``.
    """
    ports = _ports(port_base)
    bootstrap = f"127.0.0.1:{ports['broker']}"
    data_dir = Path(tempfile.gettempdir()) / "escalation-up"
    return child_env(ports, policy, bootstrap, data_dir, new_secret(), partitions)


def up(args: argparse.Namespace) -> int:
    try:
        loaded = load_policy(args.policy)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    settings = Settings()
    partitions = args.partitions or settings.kafka_partitions
    ports = _ports(args.port_base)
    data_dir = Path(tempfile.mkdtemp(prefix="escalation-up-"))
    secret = new_secret()
    bootstrap = f"127.0.0.1:{ports['broker']}"
    env = child_env(ports, args.policy, bootstrap, data_dir, secret, partitions)
    _, refused = check_targets(loaded.policy, env)
    if refused:  # the pager would never be ready: say why now, not after a timeout
        data_dir.rmdir()
        report_refused(args.policy, refused, "the environment of `escalation up`")
        return 1
    supervisor = Supervisor(log_dir=data_dir / "logs", out=sys.stdout)
    children = [
        Child(
            name,
            [sys.executable, "-m", "escalation", name],
            env,
            ready_url=f"http://127.0.0.1:{ports[name]}/readyz",
            passthrough_stdout=(name == "sink"),
        )
        for name in SERVICES
    ]
    demo = args.demo_file if args.demo else None
    intake_url = f"http://127.0.0.1:{ports['intake']}"
    return asyncio.run(
        supervisor.run(ports["broker"], partitions, children, demo, intake_url, ports)
    )
