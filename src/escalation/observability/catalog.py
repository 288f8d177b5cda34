"""docs/metrics.md's table, made from the services' live registries so it cannot drift.

Each service is built as it runs (nothing started: no broker, no port) and its registry
read. ``python -m escalation.observability.catalog --write`` rewrites the table between
the markers in docs/metrics.md; a unit test fails when the file and the registries
differ.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

DOC = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"
START, END = "<!-- catalog:start -->", "<!-- catalog:end -->"
SERVICES = ("intake", "router", "escalator", "pager", "surge")


@dataclass(frozen=True)
class Entry:
    name: str
    type: str
    labels: tuple[str, ...]
    help: str
    services: tuple[str, ...] = ()


def _entries(registry: CollectorRegistry) -> Iterator[Entry]:
    # The registry keeps no public list of its collectors' metadata without collecting
    # samples, and a labelled metric has none until used: read the collectors directly.
    for collector in list(registry._collector_to_names):
        if hasattr(collector, "_labelnames") and hasattr(collector, "_type"):
            name = collector._name + ("_total" if collector._type == "counter" else "")
            yield Entry(
                name, collector._type, tuple(collector._labelnames), collector._documentation
            )
            continue
        describe = getattr(collector, "describe", None)  # process_* and python_* have none
        for family in describe() if describe is not None else ():
            labels = tuple(getattr(family, "_labelnames", ()))
            yield Entry(family.name, family.type, labels, family.documentation)


def build_registries() -> dict[str, CollectorRegistry]:
    """Each service's registry, the services constructed but not started."""

    async def build() -> dict[str, CollectorRegistry]:
        from aiokafka import AIOKafkaProducer

        from escalation.services.common.metrics import ServiceMetrics
        from escalation.services.common.settings import Settings
        from escalation.services.escalator.app import EscalatorService
        from escalation.services.intake.service import Intake
        from escalation.services.pager.app import PagerService
        from escalation.services.router.app import Router
        from escalation.services.surge.app import SurgeService

        settings = Settings()
        intake = ServiceMetrics("intake")
        Intake(settings, AIOKafkaProducer(**settings.producer_options()), intake)
        return {
            "intake": intake.registry,
            "router": Router(settings).metrics.registry,
            "escalator": EscalatorService(settings).metrics.registry,
            "pager": PagerService(settings).metrics.registry,
            "surge": SurgeService(settings).metrics.registry,
        }

    return asyncio.run(build())


def catalog(registries: dict[str, CollectorRegistry]) -> list[Entry]:
    """One entry per escalation_* metric, with every service that exports it."""
    found: dict[str, Entry] = {}
    for service, registry in registries.items():
        for entry in _entries(registry):
            if not entry.name.startswith("escalation_"):
                continue
            known = found.get(entry.name)
            services = (*(known.services if known else ()), service)
            found[entry.name] = Entry(entry.name, entry.type, entry.labels, entry.help, services)
    return sorted(found.values(), key=lambda e: e.name)


def table(entries: list[Entry]) -> str:
    rows = ["| metric | type | labels | services | meaning |", "|---|---|---|---|---|"]
    for e in entries:
        labels = ", ".join(f"`{label}`" for label in e.labels) or "-"
        meaning = " ".join(e.help.split()).replace("|", "\\|")
        rows.append(f"| `{e.name}` | {e.type} | {labels} | {', '.join(e.services)} | {meaning} |")
    return "\n".join(rows)


def rendered(text: str, entries: list[Entry]) -> str:
    """``text`` (docs/metrics.md) with both tables replaced."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{DOC.name}: markers {START} ... {END} missing")
    replacement = f"{START}\n{table(entries)}\n{END}"
    return pattern.sub(lambda _: replacement, text)


def known_names(entries: list[Entry]) -> set[str]:
    """Every series name a query may use: counters' and histograms' sample names too."""
    names: set[str] = set()
    for e in entries:
        names.add(e.name)
        if e.type == "histogram":
            names |= {f"{e.name}_bucket", f"{e.name}_sum", f"{e.name}_count"}
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite docs/metrics.md")
    args = parser.parse_args(argv)
    text = rendered(DOC.read_text(), catalog(build_registries()))
    if args.write:
        DOC.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["Entry", "build_registries", "catalog", "known_names", "rendered", "table"]
