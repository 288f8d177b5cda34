"""The repartition step: each routed contact -> a product report per rule that counts it.

Most routed contacts are counted by no surge rule, and decoding one whole (1.5 KB with
its routing and ladder snapshot) cost more than the rest of the step. So each contact is
first read as plain JSON and screened (``policy/surge_screen.py``); only one that some
rule may count is decoded, validated and matched as before. A contact the screen rules
out is skipped unvalidated, as no rule could count it however it decoded: the escalator
reads the same topic in its own group and dead-letters what does not decode. One the
service must read and cannot is dead-lettered here, as before.

The reports are records for ``contacts.by-product.v1``, on the partition Kafka's
default partitioner gives their key (the one the closer's ticks take, through faust's
producer), so every report and tick of a product reaches one ``count`` agent.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner

from escalation.policy.surges import SurgeRules
from escalation.schemas import codec
from escalation.services.common.batches import Outgoing
from escalation.services.common.topics import BY_PRODUCT


def peek(value: bytes) -> dict[str, Any] | None:
    """The top-level members of a JSON object, unvalidated; None for anything else."""
    try:
        fields = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return fields if type(fields) is dict else None


class Repartition:
    def __init__(self, partitions: int) -> None:
        self.partitions = list(range(partitions))
        self.partitioner = DefaultPartitioner()

    def records(self, rules: SurgeRules, value: bytes) -> list[Outgoing]:
        """The routed contact's reports; raises when it must be read and cannot be."""
        fields = peek(value)
        if fields is not None and not rules.may_count(fields):
            return []
        routed = codec.decode_routed(value)  # what does not decode is the model's to say
        headers = [("event-id", routed.event_id.encode())]
        found = []
        for report in rules.reports(routed, routed.routing.route):
            key = report.key.encode()
            value = codec.encode(report)
            found.append(Outgoing(BY_PRODUCT, self.partition_of(key), key, value, headers))
        return found

    def partition_of(self, key: bytes) -> int:
        """Where Kafka's default partitioner (faust's producer's) puts ``key``."""
        return int(self.partitioner(key, self.partitions, self.partitions))
