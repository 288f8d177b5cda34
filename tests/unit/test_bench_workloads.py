"""The bench's workloads cause exactly the pages they announce, under the live decisions."""

from bench.mix import critical_burst, end_markers, realistic, same_issues

from escalation.policy import load_policy
from escalation.replay import Simulation
from escalation.schemas import codec
from escalation.testing.stack import EXAMPLE_POLICY


def pages_of(workload) -> int:
    simulation = Simulation(load_policy(EXAMPLE_POLICY))
    return sum(simulation.feed(codec.decode_contact(body)).pages for body in workload.bodies)


def test_each_workload_causes_the_pages_it_announces():
    for workload in (
        realistic(2000, "t"),
        critical_burst(50, "t"),
        same_issues(300, 7, "t"),
        end_markers("t", 4),
    ):
        assert len(set(workload.ids)) == len(workload.bodies)
        assert pages_of(workload) == workload.pages, workload.name


def test_the_realistic_mix_pages_one_contact_in_fifty():
    workload = realistic(5000, "t")
    assert workload.pages == 100
    assert len(workload.bodies) == 5000
