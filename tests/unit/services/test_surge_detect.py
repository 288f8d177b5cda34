"""Surge detection: distinct customers per product, threshold and baseline, close."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.unit.factories import T0

from escalation.schemas import EscalationSettings, codec
from escalation.schemas.surge import ProductReport, ProductTick, SurgeSettings
from escalation.schemas.surge_state import Distinct
from escalation.services.surge.detect import close_due, decide_close, decide_report
from escalation.services.surge.distinct import EXACT_LIMIT, RELATIVE_ERROR, add, count, token
from escalation.services.surge.window import counted


def settings(**overrides: object) -> SurgeSettings:
    values: dict[str, object] = {
        "rule": "products",
        "threshold": 5,
        "window_seconds": 3600,
        "ratio": 3.0,
        "half_life_seconds": 86400,
        "close_after_seconds": 1800,
        "exempt": ["critical", "vip"],
        "team": "product-quality",
        "owner": "farid",
        "targets": ["ops-webhook"],
        "escalation": EscalationSettings(),
        "policy_version": "test",
    }
    values.update(overrides)
    return SurgeSettings.model_validate(values)


def report(customer: str, at=T0, issue: str | None = None, **overrides: object) -> ProductReport:
    rule = overrides.pop("rule_settings", None) or settings()
    return ProductReport(
        key=f"{rule.rule}/WH-50",
        value="WH-50",
        event_id=f"ev-{customer}-{at.isoformat()}",
        customer_id=customer,
        issue_id=issue or f"issue-{customer}",
        category="appliances.leak",
        product="WH-50",
        occurred_at=at,
        settings=rule,
        **overrides,
    )


def feed(state, reports, now_of=lambda r: r.occurred_at):
    decisions = []
    for item in reports:
        decision = decide_report(state, item, now_of(item))
        state = decision.state
        decisions.append(decision)
    return state, decisions


def test_the_threshold_of_distinct_customers_opens_one_surge():
    reports = [report(f"C-{n}", T0 + timedelta(minutes=n)) for n in range(5)]
    _, decisions = feed(None, reports)
    assert [d.outcome for d in decisions] == ["counted"] * 4 + ["opened"]
    opened = decisions[-1].events[0]
    assert opened.type == "surge.opened"
    assert opened.affected.customers == [f"C-{n}" for n in range(5)]
    assert opened.affected.customer_count == 5
    assert decisions[-1].controls[0].active
    assert opened.surge_id.startswith("e1.")
    assert opened.customer_id == "surge:products:WH-50"


def test_one_customer_reporting_many_times_is_one_customer():
    reports = [report("C-1", T0 + timedelta(minutes=n), issue=f"i{n}") for n in range(20)]
    state, decisions = feed(None, reports)
    assert all(d.outcome in ("counted", "old") for d in decisions)
    assert state.surge is None


def test_customers_outside_the_window_do_not_count():
    reports = [report(f"C-{n}", T0 + timedelta(minutes=20 * n)) for n in range(8)]
    _, decisions = feed(None, reports)
    assert "opened" not in [d.outcome for d in decisions]
    assert max(d.count for d in decisions) <= 4


def test_a_busy_product_needs_the_ratio_over_its_own_baseline():
    rule = settings(threshold=5, ratio=3.0, window_seconds=3600, half_life_seconds=3 * 3600)
    # Six distinct customers every hour for two days: the product's normal, learnt while
    # the threshold was out of reach (a surge open from the first hour would freeze it).
    learning = rule.model_copy(update={"threshold": 1000})
    history = [
        report(f"H{hour}-{n}", T0 + timedelta(hours=hour, minutes=n), rule_settings=learning)
        for hour in range(48)
        for n in range(6)
    ]
    state, _ = feed(None, history)
    assert 5 < state.baseline <= 6
    usual = [
        report(f"U-{n}", T0 + timedelta(hours=48, minutes=n), rule_settings=rule) for n in range(6)
    ]
    state, decisions = feed(state, usual)
    assert [d.outcome for d in decisions] == ["counted"] * 6  # over 5, under 3 x baseline
    burst_at = T0 + timedelta(hours=48, minutes=10)
    burst = [
        report(f"B-{n}", burst_at + timedelta(seconds=n), rule_settings=rule) for n in range(40)
    ]
    _, decisions = feed(state, burst)
    assert [d.outcome for d in decisions].count("opened") == 1
    opened = next(d for d in decisions if d.outcome == "opened")
    assert opened.count >= rule.ratio * state.baseline > opened.count - 1


def test_a_new_customer_updates_the_open_surge_and_a_known_one_does_not():
    reports = [report(f"C-{n}", T0 + timedelta(minutes=n)) for n in range(5)]
    state, _ = feed(None, reports)
    more = decide_report(state, report("C-9", T0 + timedelta(minutes=6)), T0 + timedelta(minutes=6))
    assert more.outcome == "updated"
    assert more.events[0].affected.customers[-1] == "C-9"
    again = decide_report(
        more.state, report("C-9", T0 + timedelta(minutes=7)), T0 + timedelta(minutes=7)
    )
    assert again.outcome == "joined" and again.events == []


def test_a_report_read_again_adds_nothing():
    reports = [report(f"C-{n}", T0 + timedelta(minutes=n)) for n in range(5)]
    state, _ = feed(None, reports)
    replay = decide_report(state, reports[-1], reports[-1].occurred_at)
    assert replay.events == [] and replay.state.surge == state.surge


def test_the_surge_closes_after_its_quiet_time_by_a_tick_of_the_current_version():
    reports = [report(f"C-{n}", T0 + timedelta(minutes=n)) for n in range(5)]
    state, _ = feed(None, reports)
    due = close_due(state)
    assert due == T0 + timedelta(minutes=4, seconds=1800)
    stale = decide_close(state, ProductTick(key=state.key, version=state.version - 1, due=due), due)
    assert stale.outcome == "stale"
    tick = ProductTick(key=state.key, version=state.version, due=due)
    assert decide_close(state, tick, due - timedelta(seconds=1)).outcome == "early"
    closed = decide_close(state, tick, due)
    assert closed.outcome == "closed"
    assert closed.events[0].type == "surge.closed"
    assert not closed.controls[0].active
    assert closed.state.surge is None
    assert decide_close(closed.state, tick, due).outcome == "stale"  # a tick sent twice


def test_distinct_is_exact_up_to_its_limit_then_a_bounded_sketch():
    distinct = Distinct()
    for n in range(EXACT_LIMIT):
        distinct, _ = add(distinct, token(f"C-{n}"))
    assert distinct.ids is not None and count(distinct) == EXACT_LIMIT
    rng = random.Random(7)
    for n in range(EXACT_LIMIT, 20_000):
        distinct, _ = add(distinct, token(f"C-{n}-{rng.random()}"))
    assert distinct.ids is None and distinct.registers is not None
    assert len(distinct.registers) <= 700  # 512 registers, base64
    assert abs(count(distinct) - 20_000) <= 20_000 * 3 * RELATIVE_ERROR


def test_a_sketch_read_back_from_the_changelog_is_still_a_sketch():
    distinct = Distinct()
    for n in range(5_000):
        distinct, _ = add(distinct, token(f"C-{n}"))
    read = codec.decode(Distinct, codec.encode(distinct))
    assert read.ids == [] and read.registers == distinct.registers  # ids left out when written
    assert count(read) == count(distinct)
    more, _ = add(read, token("C-new"))
    assert more.registers is not None and count(more) >= count(distinct)


def test_a_flooded_product_counts_the_same_with_its_state_written_and_read_back():
    rule = settings(threshold=10**6)
    reports = [
        report(f"C-{n}", T0 + timedelta(seconds=n % 300), rule_settings=rule) for n in range(400)
    ]
    kept, _ = feed(None, reports)
    state = None
    for item in reports:
        state = decide_report(state, item, item.occurred_at).state
        state = codec.decode_product_state(codec.encode(state))  # as the service keeps it
    now = reports[-1].occurred_at
    assert counted(state, rule, now) == counted(kept, rule, now) > EXACT_LIMIT
