"""Consumer lag per partition, computed when Prometheus scrapes, never stored.

Lag is the partition's high watermark, as the last Fetch reported it, less the offset
the service committed: records written that the service has not yet finished. The
Fetch high watermark is used because Tansu's ListOffsets under-reports the log end
(docs/broker.md); on Kafka both agree. A partition the service never fetched from has
no figure yet and is left out rather than reported as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LAG = "escalation_consumer_lag"
LAG_HELP = (
    "Records in a partition not yet committed by this service's consumer group "
    "(fetched high watermark less committed offset)."
)


def lag_of(
    highwaters: Mapping[tuple[str, int], int | None], committed: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Per (topic, partition) with both figures known: never negative."""
    return {
        tp: max(0, end - committed[tp])
        for tp, end in highwaters.items()
        if end is not None and tp in committed
    }


class ConsumerLag(Collector):
    def __init__(self, source: Callable[[], Mapping[tuple[str, int], int]]) -> None:
        self.source = source

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(LAG, LAG_HELP, labels=["topic", "partition"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(LAG, LAG_HELP, labels=["topic", "partition"])
        for (topic, partition), lag in sorted(self.source().items()):
            family.add_metric([topic, str(partition)], lag)
        yield family
