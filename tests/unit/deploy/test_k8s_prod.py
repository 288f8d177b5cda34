"""The prod overlay's pods load production client settings: acks=all, idempotence, TLS."""

from __future__ import annotations

import certifi
import pytest

from .manifests import environment, render, settings_from, workloads

PROD = render("overlays/prod")


def pod_settings(name: str, monkeypatch):
    """The pod's Settings; a real CA bundle stands in for the mounted cluster CA, so the
    TLS context is built as the pod builds it."""
    env = environment(PROD, workloads(PROD)[name])
    assert env["ESCALATION_KAFKA_SSL_CAFILE"] == "/etc/escalation/kafka-ca/ca.crt"
    return settings_from({**env, "ESCALATION_KAFKA_SSL_CAFILE": certifi.where()}, monkeypatch)


@pytest.mark.parametrize("name", sorted(workloads(PROD)))
def test_producers_wait_for_every_in_sync_replica_and_are_idempotent(name, monkeypatch):
    settings = pod_settings(name, monkeypatch)
    assert settings.profile == "production"
    producer = settings.producer_options()  # intake's and the router's aiokafka producers
    assert producer["acks"] == "all"
    assert producer["enable_idempotence"] is True
    faust = settings.faust_options()  # the escalator's, pager's and surge's
    assert faust["producer_acks"] == -1
    assert all(url.startswith("kafka+idempotent://") for url in faust["broker"].split(";"))


@pytest.mark.parametrize("name", sorted(workloads(PROD)))
def test_clients_authenticate_over_tls(name, monkeypatch):
    settings = pod_settings(name, monkeypatch)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism.startswith("SCRAM-")
    assert settings.replication_factor == 3
    assert settings.min_insync_replicas == 2
    assert settings.producer_options()["ssl_context"] is not None
    assert settings.producer_options()["sasl_plain_password"] == "sample-sasl-password"
