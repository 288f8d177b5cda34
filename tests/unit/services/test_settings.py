import pytest
from pydantic import ValidationError

from escalation.services.common.settings import Settings
from escalation.services.common.topics import catalogue, dlq_of
from escalation.services.intake.auth import digest


def test_public_bind_without_tokens_refuses_to_start():
    with pytest.raises(ValidationError, match="not a loopback address"):
        Settings(intake_host="0.0.0.0")
    Settings(intake_host="0.0.0.0", intake_tokens={"crm": digest("t")})
    Settings(intake_host="::1")


def test_tokens_must_be_stored_hashed():
    with pytest.raises(ValidationError, match="sha256"):
        Settings(intake_tokens={"crm": "plain-token"})


def test_environment_prefix(monkeypatch):
    monkeypatch.setenv("ESCALATION_KAFKA_BOOTSTRAP", "kafka:9093")
    monkeypatch.setenv("ESCALATION_INTAKE_TOKENS", f'{{"crm": "{digest("t")}"}}')
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:9093"
    assert set(settings.intake_tokens) == {"crm"}


def test_profiles_differ_only_where_the_broker_needs_it():
    embedded = Settings(profile="embedded")
    production = Settings(profile="production", intake_tokens={"crm": digest("t")})
    assert production.producer_options()["enable_idempotence"] is True
    assert production.producer_options()["acks"] == "all"
    assert embedded.producer_options()["enable_idempotence"] is False
    assert embedded.faust_options()["broker_session_timeout"] == 6
    assert embedded.faust_options()["broker"] == "tansu://127.0.0.1:9092?fetch_max_wait_ms=20"
    assert "producer_max_batch_size" not in embedded.faust_options()
    single = Settings(embedded_end_offsets="single-record-batches")
    assert single.producer_options(feeds_state_recovery=True)["max_batch_size"] == 16
    assert "max_batch_size" not in single.producer_options()
    assert single.faust_options()["producer_max_batch_size"] == 16
    assert single.faust_options()["broker"] == (
        "tansu://127.0.0.1:9092?fetch_max_wait_ms=20&end_offsets=broker"
    )
    cluster = Settings(
        profile="production", kafka_bootstrap="k1:9092,k2:9092", intake_tokens={"crm": digest("t")}
    )
    assert cluster.faust_options()["broker"] == (
        "kafka+idempotent://k1:9092?fetch_max_wait_ms=500;"
        "kafka+idempotent://k2:9092?fetch_max_wait_ms=500"
    )
    assert "producer_max_batch_size" not in production.faust_options()


def test_every_data_topic_has_a_dlq_with_the_same_partitions():
    specs = {s.name: s.partitions for s in catalogue(6)}
    assert dlq_of("contacts.v1") == "contacts.dlq.v1"
    for topic in ("contacts.v1", "contacts.routed.v1", "pages.v1", "escalation.commands.v1"):
        assert specs[dlq_of(topic)] == specs[topic] == 6


def test_replication_defaults_follow_the_profile_and_can_be_set():
    embedded = Settings()
    production = Settings(profile="production", intake_tokens={"crm": digest("t")})
    assert (embedded.replication_factor, embedded.min_insync_replicas) == (1, 1)
    assert (production.replication_factor, production.min_insync_replicas) == (3, 2)
    assert production.faust_options()["topic_replication_factor"] == 3
    tuned = Settings(kafka_replication_factor=5, kafka_min_insync_replicas=3)
    assert (tuned.replication_factor, tuned.min_insync_replicas) == (5, 3)
    single_broker = Settings(
        profile="production", intake_tokens={"crm": digest("t")}, kafka_replication_factor=1
    )
    assert single_broker.min_insync_replicas == 1
    with pytest.raises(ValidationError, match="no write could succeed"):
        Settings(kafka_replication_factor=2, kafka_min_insync_replicas=3)


def test_every_topic_gets_min_insync_replicas():
    from escalation.services.common.broker import topic_configs

    specs = {s.name: s for s in catalogue(4)}
    assert topic_configs(specs["contacts.v1"], 2) == {"min.insync.replicas": "2"}
    assert topic_configs(specs["escalation-router-changelog"], 2) == {
        "cleanup.policy": "compact",
        "min.insync.replicas": "2",
    }


def auth_of(options: dict) -> dict:
    """The authentication part of aiokafka client options, SSL context by its settings."""
    keys = ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")
    auth = {k: options.get(k) for k in keys if options.get(k) is not None}
    context = options.get("ssl_context")
    if context is not None:
        auth["ssl"] = (context.verify_mode, context.check_hostname, context.cert_store_stats())
    return auth


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("PLAINTEXT", "PLAIN"),
        ("SSL", "PLAIN"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
        ("SASL_SSL", "SCRAM-SHA-256"),
        ("SASL_SSL", "PLAIN"),
    ],
)
def test_faust_services_authenticate_exactly_as_the_aiokafka_ones(protocol, mechanism):
    """What faust hands its aiokafka clients equals what the router and intake use."""
    import certifi
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    settings = Settings(
        profile="production",
        intake_tokens={"crm": digest("t")},
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="escalation",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=certifi.where(),
    )
    faust_auth = credentials_to_aiokafka_auth(settings.faust_options()["broker_credentials"])
    assert auth_of(faust_auth) == auth_of(settings.kafka_common())
    assert auth_of(settings.kafka_common())["security_protocol"] == protocol
    if protocol.endswith("SSL"):
        assert auth_of(faust_auth)["ssl"][2]["x509_ca"] > 0  # the CA file was loaded
    if protocol.startswith("SASL"):
        assert faust_auth["sasl_plain_password"] == "s3cret"


def test_sasl_without_credentials_refuses_to_start():
    with pytest.raises(ValidationError, match="ESCALATION_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_SSL")


def test_a_topic_the_cluster_refuses_says_why_and_what_to_set():
    from types import SimpleNamespace

    from escalation.services.common.broker import _refusal

    ok = SimpleNamespace(topic_errors=[("contacts.v1", 0, None)])
    exists = SimpleNamespace(topic_errors=[("contacts.v1", 36, "exists")])
    refused = SimpleNamespace(topic_errors=[("contacts.v1", 38, "only 1 broker")])
    assert _refusal(ok, 3) is None
    assert _refusal(exists, 3) is None
    reason = _refusal(refused, 3)
    assert reason is not None
    assert "InvalidReplicationFactorError: only 1 broker" in reason
    assert "ESCALATION_KAFKA_REPLICATION_FACTOR" in reason


def test_every_consumer_waits_briefly_on_the_embedded_broker_only():
    """Tansu answers an empty fetch only when its wait ends: the wait is per-hop latency."""
    embedded = Settings()
    production = Settings(profile="production", intake_tokens={"crm": digest("t")})
    assert embedded.consumer_options("g")["fetch_max_wait_ms"] == 20
    assert embedded.reader_options()["fetch_max_wait_ms"] == 20
    assert production.consumer_options("g")["fetch_max_wait_ms"] == 500
    assert production.reader_options()["fetch_max_wait_ms"] == 500
    chosen = Settings(consumer_fetch_max_wait_ms=35)
    assert chosen.consumer_options("g")["fetch_max_wait_ms"] == 35
    assert "fetch_max_wait_ms=35" in chosen.faust_options()["broker"]


def test_controls_readers_wait_longer_than_the_hops_on_the_embedded_broker():
    """A topic written a few times a day is not polled every 20 ms (each Fetch costs Tansu)."""
    embedded = Settings()
    production = Settings(profile="production", intake_tokens={"crm": digest("t")})
    assert embedded.controls_fetch_wait_ms == 250
    assert production.controls_fetch_wait_ms == 500
    assert Settings(controls_fetch_max_wait_ms=40).controls_fetch_wait_ms == 40
    assert Settings(consumer_fetch_max_wait_ms=35).controls_fetch_wait_ms == 250


async def test_faust_consumers_take_the_fetch_wait_from_the_broker_url():
    import faust

    from escalation.services.common.transports import FetchWaitConsumerThread

    for settings in (Settings(), Settings(embedded_end_offsets="trust-broker")):
        app = faust.App("fetch-wait-test", **settings.faust_options())
        thread = app.consumer._thread
        assert isinstance(thread, FetchWaitConsumerThread)
        consumer = thread._create_worker_consumer(app.transport)
        assert consumer._fetch_max_wait_ms == 20
        await consumer.stop()


def test_linger_five_ms_for_intake_one_for_faust_on_the_embedded_broker():
    embedded = Settings()
    assert embedded.producer_options()["linger_ms"] == 5
    assert embedded.faust_options()["producer_linger"] == 0.001
    production = Settings(profile="production", intake_tokens={"crm": digest("t")})
    assert "producer_linger" not in production.faust_options()
    assert production.producer_options()["linger_ms"] == 5
    chosen = production.model_copy(update={"producer_linger_ms": 2})
    assert chosen.faust_options()["producer_linger"] == 0.002
    assert chosen.producer_options()["linger_ms"] == 2


def test_token_digests_are_stored_lower_case_and_must_be_hex():
    digest_hex = digest("t").partition(":")[2]
    settings = Settings(intake_tokens={"crm": f" SHA256:{digest_hex.upper()} "})
    assert settings.intake_tokens == {"crm": f"sha256:{digest_hex}"}
    for bad in ("sha256:" + "a_" * 32, "sha256:0x" + "a" * 62, "md5:" + "a" * 64):
        with pytest.raises(ValidationError, match="sha256"):
            Settings(intake_tokens={"crm": bad})


@pytest.mark.parametrize(
    ("text", "days"), [("31536000", 365), ("400d", 400), ("36h", 1.5), ("P30D", 30)]
)
def test_intake_windows_read_seconds_suffixes_or_iso_8601(monkeypatch, text, days):
    monkeypatch.setenv("ESCALATION_INTAKE_MAX_EVENT_AGE", text)
    assert Settings().intake_max_event_age.total_seconds() == days * 86400


def test_intake_limits_have_safe_defaults_and_bounds():
    settings = Settings()
    assert settings.intake_max_event_age.days == 365
    assert settings.intake_max_clock_skew.days == 1
    assert settings.intake_broker_deadline_seconds == 5.0
    with pytest.raises(ValidationError):
        Settings(intake_max_event_age="0")
    with pytest.raises(ValidationError):
        Settings(intake_broker_deadline_seconds=0)


def test_tokens_carry_scopes_and_a_bare_digest_is_a_contacts_source():
    settings = Settings(
        intake_tokens={
            "crm": digest("a"),
            "ops": {
                "digest": digest("b").upper().replace("SHA256", "sha256"),
                "scopes": ["escalations", "escalations"],
            },
        }
    )
    grants = settings.token_grants()
    assert grants["crm"].scopes == ["contacts"]
    assert grants["ops"].scopes == ["escalations"]
    assert grants["ops"].digest == digest("b")
    for bad in (
        {"digest": digest("b"), "scopes": ["admin"]},
        {"digest": digest("b"), "scopes": []},
    ):
        with pytest.raises(ValidationError):
            Settings(intake_tokens={"ops": bad})
    with pytest.raises(ValidationError, match="sha256"):
        Settings(intake_tokens={"ops": {"digest": "plain", "scopes": ["escalations"]}})
