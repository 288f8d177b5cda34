"""Repartition: a routed contact becomes a report per counting rule, on its key's partition."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from tests.unit.factories import routed
from tests.unit.policy.fixtures import POLICY, SURGE_RULE

from escalation.policy import parse_policy
from escalation.policy.surges import SurgeRules
from escalation.schemas import codec
from escalation.services.common.settings import Settings
from escalation.services.common.topics import BY_PRODUCT
from escalation.services.surge.app import FETCH_WAIT_MS, _slower_fetches
from escalation.services.surge.repartition import Repartition

RULES = SurgeRules(parse_policy(POLICY + SURGE_RULE))


def test_a_counted_contact_is_reported_under_its_rule_and_product():
    contact = routed()
    [record] = Repartition(4).records(RULES, codec.encode(contact))
    assert (record.topic, record.key) == (BY_PRODUCT, b"defects/AC-3000")
    assert record.partition == DefaultPartitioner()(record.key, [0, 1, 2, 3], [0, 1, 2, 3])
    assert record.headers == [("event-id", contact.event_id.encode())]
    report = codec.decode_product_signal(record.value)
    assert (report.customer_id, report.issue_id) == (contact.customer.id, contact.issue_id)


def test_a_contact_no_rule_counts_makes_nothing_even_unvalidated():
    assert Repartition(4).records(RULES, codec.encode(routed(category="billing.question"))) == []
    assert Repartition(4).records(RULES, b'{"category": "billing", "x": 1}') == []


def test_a_contact_that_must_be_read_and_cannot_be_raises_for_its_dead_letter():
    with pytest.raises(codec.DecodeError):
        Repartition(4).records(RULES, b"not json")
    with pytest.raises(codec.DecodeError):
        Repartition(4).records(RULES, b'{"category": "hvac.repair", "product": "AC-3000"}')


def test_the_surge_agents_fetch_less_often_on_the_embedded_broker_only_unless_set():
    embedded = Settings(kafka_bootstrap="127.0.0.1:9092")
    assert _slower_fetches(embedded)["broker"].endswith(f"fetch_max_wait_ms={FETCH_WAIT_MS}")
    assert _slower_fetches(embedded.model_copy(update={"consumer_fetch_max_wait_ms": 30})) == {}
