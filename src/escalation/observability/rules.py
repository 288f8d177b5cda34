"""The PrometheusRule for Kubernetes, made from deploy/prometheus/rules.yaml.

One source for the alert rules: promtool checks and unit-tests the plain rules file, and
the Prometheus Operator's object carries the same groups indented under ``spec``.
``python -m escalation.observability.rules --write`` rewrites it; a unit test fails when
the two differ.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "base" / "monitoring" / "prometheusrule.yaml"

HEADER = """\
# Made from deploy/prometheus/rules.yaml (python -m escalation.observability.rules --write);
# edit that file, not this one: a unit test holds the two equal.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: escalation
  labels:
    app.kubernetes.io/part-of: escalation
    role: alert-rules
spec:
"""


def prometheus_rule(rules_text: str) -> str:
    """The rules file's ``groups:`` block, comments before it dropped, under ``spec``."""
    lines = rules_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    body = [f"  {line}" if line.strip() else "" for line in lines[start:]]
    return HEADER + "\n".join(body) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    text = prometheus_rule(RULES.read_text())
    if args.write:
        PROMETHEUS_RULE.write_text(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
