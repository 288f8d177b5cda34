"""Every topic of the catalogue is a Strimzi KafkaTopic matching the services' settings.

The services refuse to start until every catalogue topic exists, and faust and the
router assume each has ESCALATION_KAFKA_PARTITIONS partitions (co-partitioned by
customer id): a missing topic or a wrong count is an outage, so both are checked per
overlay, against the Settings the pods load.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from escalation.services.common.topics import catalogue

from .manifests import ROOT, TARGETS, environment, of_kind, render, settings_from, workloads


def test_generated_files_are_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "k8s_generated.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_topics_match_the_catalogue_and_the_settings(target, monkeypatch):
    objects = render(target)
    every = [
        settings_from(environment(objects, workload), monkeypatch)
        for workload in workloads(objects).values()
    ]
    partitions = {s.kafka_partitions for s in every}
    assert len(partitions) == 1, f"the services disagree on partitions: {partitions}"
    settings = every[0]
    specs = {spec.name: spec for spec in catalogue(settings.kafka_partitions)}
    topics = {t["spec"]["topicName"]: t for t in of_kind(objects, "KafkaTopic")}
    assert sorted(topics) == sorted(specs), "KafkaTopics and the topic catalogue differ"
    cluster = settings.kafka_bootstrap.split(",")[0].split("-kafka-bootstrap")[0]
    for name, topic in topics.items():
        spec, config = specs[name], topic["spec"].get("config", {})
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster, name
        assert topic["spec"]["partitions"] == spec.partitions, name
        assert topic["spec"]["replicas"] == settings.replication_factor, name
        assert int(config["min.insync.replicas"]) == settings.min_insync_replicas, name
        assert (config.get("cleanup.policy") == "compact") == spec.compacted, name


def test_production_topics_survive_a_broker_loss():
    for topic in of_kind(render("overlays/prod"), "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3
        assert int(topic["spec"]["config"]["min.insync.replicas"]) == 2
