"""The metric names the dashboards and alert rules query, read from their files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"
NAME = re.compile(r"\b(escalation_[a-z0-9_]+)\b")
"""Every metric here carries the prefix, and no label name or function does."""


def _panel_exprs(panels: list[dict[str, Any]]) -> Iterator[str]:
    for panel in panels:
        for target in panel.get("targets", ()):
            if "expr" in target:
                yield target["expr"]
        yield from _panel_exprs(panel.get("panels", []))  # rows hold panels


def dashboard_exprs(path: Path) -> list[str]:
    return list(_panel_exprs(json.loads(path.read_text())["panels"]))


def rule_exprs(path: Path = RULES) -> list[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    return set(NAME.findall(expr))


def queried_names() -> dict[str, set[str]]:
    """Metric name -> the files (dashboards, rules) whose queries use it."""
    used: dict[str, set[str]] = {}
    sources = [(p.name, dashboard_exprs(p)) for p in DASHBOARDS] + [(RULES.name, rule_exprs())]
    for source, exprs in sources:
        for expr in exprs:
            for name in metric_names(expr):
                used.setdefault(name, set()).add(source)
    return used
