"""The alert rules: promtool checks them and runs their unit tests; the PrometheusRule matches.

promtool comes from Debian's ``prometheus`` package (``make promtool`` installs it as
root). Without it these tests fail under CI and are skipped elsewhere, as the browser
test is.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from escalation.observability.rules import PROMETHEUS_RULE, RULES, prometheus_rule

PROMTOOL = shutil.which("promtool")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if PROMTOOL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing: run `make promtool` (Debian's prometheus)")
        pytest.skip("promtool is missing: `make promtool` installs it (as root)")
    return subprocess.run(
        [PROMTOOL, *args], cwd=RULES.parent, capture_output=True, text=True, timeout=120
    )


def test_promtool_accepts_the_rules():
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_the_rules_fire_and_stay_quiet_as_their_unit_tests_say():
    done = promtool("test", "rules", "rules.test.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test_that_expects_it_to_fire():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    tests = yaml.safe_load((RULES.parent / "rules.test.yaml").read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts == firing


def test_the_prometheus_rule_for_kubernetes_carries_the_same_groups():
    assert PROMETHEUS_RULE.read_text() == prometheus_rule(RULES.read_text()), (
        "run `python -m escalation.observability.rules --write`"
    )
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
