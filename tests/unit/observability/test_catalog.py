"""docs/metrics.md against the live registries, and every queried metric against both."""

from __future__ import annotations

import pytest

from escalation.observability.catalog import (
    DOC,
    build_registries,
    catalog,
    known_names,
    rendered,
)
from escalation.observability.queries import DASHBOARDS, queried_names


@pytest.fixture(scope="module")
def entries():
    return catalog(build_registries())


def test_the_catalog_in_the_docs_is_the_one_the_services_export(entries):
    text = DOC.read_text()
    assert rendered(text, entries) == text, (
        "docs/metrics.md differs from the services' registries: run "
        "`python -m escalation.observability.catalog --write` and review the diff"
    )


def test_every_metric_a_dashboard_or_rule_queries_is_in_the_catalog(entries):
    unknown = {
        name: sorted(files)
        for name, files in queried_names().items()
        if name not in known_names(entries)
    }
    assert unknown == {}


def test_the_dashboards_show_the_domain_figures_and_the_surges():
    names = set(queried_names())
    for wanted in (
        "escalation_issue_contacts_total",
        "escalation_resolutions_total",
        "escalation_time_to_own_seconds_bucket",
        "escalation_time_to_ack_seconds_bucket",
        "escalation_time_to_resolve_seconds_bucket",
        "escalation_escalations_open",
        "escalation_csat_after_resolve_count",
        "escalation_surge_open",
        "escalation_surge_events_total",
    ):
        assert wanted in names
    assert len(DASHBOARDS) == 2


def test_no_metric_has_a_label_that_would_hold_an_id(entries):
    forbidden = {"customer", "customer_id", "issue", "issue_id", "event_id", "escalation_id"}
    assert [e.name for e in entries if forbidden & set(e.labels)] == []
    assert all(e.name.endswith("_total") for e in entries if e.type == "counter")
