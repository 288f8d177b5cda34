"""Silence matchers (Alertmanager's four operators) and which silence holds a page when."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from escalation.policy.silences import expired, silenced_by
from escalation.schemas.silence import Matcher, MatcherInput, Silence

T0 = datetime.fromisoformat("2026-11-25T12:00:00+00:00")
HOUR = timedelta(hours=1)
parse = TypeAdapter(MatcherInput).validate_python


def silence(ident: str, *matchers: str, start=T0, end=T0 + HOUR, mode="wait") -> Silence:
    return Silence(id=ident, matchers=list(matchers), starts_at=start, ends_at=end, mode=mode)


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ("product=thermo-2", "product", "=", "thermo-2"),
        ('category=~"hvac(\\..*)?"', "category", "=~", "hvac(\\..*)?"),
        ("customer.tier != vip", "customer.tier", "!=", "vip"),
        ('attributes.region!~"eu-.*"', "attributes.region", "!~", "eu-.*"),
        ('owner="say \\"hi\\""', "owner", "=", 'say "hi"'),
        ('product=""', "product", "=", ""),
    ],
)
def test_a_matcher_reads_as_alertmanager_writes_it(text, name, op, value) -> None:
    matcher = parse(text)
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)
    assert parse(str(matcher)) == matcher  # printed back, it reads the same


@pytest.mark.parametrize(
    ("written", "error"),
    [
        ("colour=red", "unknown field 'colour'"),
        ("product", "is not 'name=value'"),
        ("category=~hvac(", "invalid regular expression"),
        ({"name": "product", "op": "==", "value": "x"}, "Input should be"),
    ],
)
def test_a_bad_matcher_says_what_is_wrong(written, error) -> None:
    with pytest.raises(ValidationError, match=error.replace("(", r"\(")):
        parse(written)


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ("product=x", {"product": "x"}, True),
        ("product=x", {"product": "xy"}, False),
        ("product!=x", {"product": "y"}, True),
        ("product!=x", {}, True),  # a missing field is "" and "" != "x"
        ('product=""', {}, True),
        ('product!=""', {}, False),  # "has a product"
        ("category=~hvac", {"category": "hvac.repair"}, False),  # anchored at both ends
        ('category=~"hvac(\\..*)?"', {"category": "hvac.repair"}, True),
        ('category=~"hvac(\\..*)?"', {"category": "hvacx"}, False),
        ("customer.tier!~vip|priority", {"customer.tier": "standard"}, True),
        ("customer.tier!~vip|priority", {"customer.tier": "vip"}, False),
    ],
)
def test_matchers(matcher, labels, expected) -> None:
    assert parse(matcher).matches(labels) is expected


values = st.text(alphabet="abx.-", max_size=6)


@given(value=values, wanted=values, regex=st.sampled_from(["a.*", "x", "(a|b)+", ".*", ""]))
def test_negations_are_exact_complements(value: str, wanted: str, regex: str) -> None:
    labels = {"product": value}
    eq = Matcher(name="product", op="=", value=wanted)
    ne = Matcher(name="product", op="!=", value=wanted)
    re_ = Matcher(name="product", op="=~", value=regex)
    nre = Matcher(name="product", op="!~", value=regex)
    assert eq.matches(labels) != ne.matches(labels)
    assert re_.matches(labels) != nre.matches(labels)


def test_a_silence_holds_from_its_start_until_its_end_exclusive() -> None:
    one = silence("s1", "product=x")
    labels = {"product": "x"}
    assert silenced_by([one], labels, T0 - timedelta(microseconds=1)) is None
    assert silenced_by([one], labels, T0) == one
    assert silenced_by([one], labels, T0 + HOUR - timedelta(microseconds=1)) == one
    assert silenced_by([one], labels, T0 + HOUR) is None
    assert silenced_by([one], {"product": "y"}, T0) is None


def test_every_matcher_must_hold() -> None:
    both = silence("s1", "product=x", "customer.tier=vip")
    assert silenced_by([both], {"product": "x", "customer.tier": "vip"}, T0) == both
    assert silenced_by([both], {"product": "x", "customer.tier": "standard"}, T0) is None


def test_drop_wins_then_the_latest_end_then_the_smallest_id() -> None:
    short = silence("a-short", "product=x")
    long = silence("b-long", "product=x", end=T0 + 3 * HOUR)
    long_too = silence("a-long", "product=x", end=T0 + 3 * HOUR)
    drop = silence("z-drop", "product=x", mode="drop")
    labels = {"product": "x"}
    assert silenced_by([short, long], labels, T0) == long
    assert silenced_by([short, long, long_too], labels, T0) == long_too
    assert silenced_by([short, long, drop], labels, T0) == drop


@given(st.permutations(range(5)))
def test_the_choice_does_not_depend_on_reading_order(order: list[int]) -> None:
    found = [
        silence(
            f"s{i}", "product=x", end=T0 + HOUR * (1 + i % 3), mode="drop" if i == 4 else "wait"
        )
        for i in range(5)
    ]
    assert silenced_by([found[i] for i in order], {"product": "x"}, T0).id == "s4"
    waiting = found[:4]
    random.Random(sum(order)).shuffle(waiting)
    assert silenced_by(waiting, {"product": "x"}, T0).id == "s2"


def test_an_expired_silence_ends_then_and_one_expired_early_never_starts() -> None:
    one = silence("s1", "product=x")
    ended = expired(one, T0 + timedelta(minutes=10))
    assert silenced_by([ended], {"product": "x"}, T0 + timedelta(minutes=9)) == ended
    assert silenced_by([ended], {"product": "x"}, T0 + timedelta(minutes=10)) is None
    never = expired(silence("s2", "product=x", start=T0 + HOUR, end=T0 + 2 * HOUR), T0)
    assert all(
        silenced_by([never], {"product": "x"}, T0 + timedelta(minutes=m)) is None
        for m in range(0, 180, 5)
    )
    assert expired(one, T0 + 2 * HOUR) == one  # expiring after the end changes nothing
