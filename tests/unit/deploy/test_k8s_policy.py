"""The policy ConfigMap is a valid policy, and the pager can page every target in it."""

from __future__ import annotations

import pytest

from escalation.policy.load import parse_policy
from escalation.policy.targets import check_targets, file_errors

from .manifests import ROOT, TARGETS, by_name, environment, render, workloads


def policy_text(target: str) -> str:
    return by_name(render(target), "ConfigMap")["escalation-policy"]["data"]["policy.yaml"]


def test_base_ships_the_example_policy():
    assert policy_text("base") == (ROOT / "config" / "policy.example.yaml").read_text()


@pytest.mark.parametrize("target", TARGETS)
def test_the_pager_accepts_every_target_of_the_policy(target):
    loaded = parse_policy(policy_text(target), "policy.yaml")
    assert not file_errors(loaded.policy)
    objects = render(target)
    environ = environment(objects, workloads(objects)["pager"])
    usable, problems = check_targets(loaded.policy, environ)
    assert not problems, "\n".join(problems)
    assert [t.id for t in usable] == [t.id for t in loaded.policy.targets]
