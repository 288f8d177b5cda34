"""Settings from ``ESCALATION_*`` environment variables, with embedded and production profiles."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["embedded", "production"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every knob of every service; each service reads the part it needs."""

    model_config = SettingsConfigDict(env_prefix="ESCALATION_", extra="ignore")

    profile: Profile = "embedded"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_client_id: str = "escalation"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle for SSL/SASL_SSL (default: the system's)"
    )
    kafka_ssl_certfile: Path | None = Field(default=None, description="client certificate")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="client certificate key")
    kafka_partitions: int = Field(default=4, ge=1, le=1024)
    kafka_replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="replicas of every topic (default: 3 production, 1 embedded)",
    )
    kafka_min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        description="min.insync.replicas of every topic (default: 2 production, 1 embedded)",
    )
    kafka_request_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long a producer waits for the broker to acknowledge a write before "
        "the send fails (faust's own default is 20 minutes)",
    )
    stream_retry_seconds: float = Field(
        default=30.0,
        ge=0,
        description="how long router, escalator and pager retry a failed broker write in "
        "place before they exit (code 75) without committing, to be restarted",
    )
    producer_linger_ms: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="how long producers wait to fill a batch (default: 5 production, "
        "1 embedded); more batches fewer, larger requests",
    )
    embedded_end_offsets: Literal["fetch", "single-record-batches", "trust-broker"] = Field(
        default="fetch",
        description=(
            "how the embedded profile works around Tansu's low ListOffsets answer: read the "
            "high watermark from Fetch (default), send one record per batch, or trust the "
            "broker (loses the last batch of table writes on recovery; for the repro only)"
        ),
    )
    policy: Path = Path("config/policy.example.yaml")
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    # intake
    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    intake_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="source -> 'sha256:<hex>' of its bearer token (never the token itself)",
    )
    intake_max_body_bytes: int = 1024 * 1024
    intake_max_event_bytes: int = 64 * 1024
    intake_max_batch: int = 1000
    intake_dedup_window: int = Field(default=200_000, ge=0)
    intake_rate_per_source: float = Field(default=20_000.0, gt=0, description="events/s")
    intake_burst_per_source: float = Field(default=40_000.0, gt=0)
    intake_public_url: str | None = None

    # stream services (router, escalator, pager): port for healthz/readyz/metrics
    router_port: int = 8081
    escalator_port: int = 8082
    pager_port: int = 8083
    web_host: str = "127.0.0.1"
    data_dir: Path = Path(".escalation")
    store: str = "memory://"

    # pager
    pager_timeout_seconds: float = 5.0
    pager_max_attempts: int = Field(default=8, ge=1)
    pager_backoff_base_seconds: float = 0.5
    pager_backoff_max_seconds: float = 30.0

    # local page sink (embedded stack)
    sink_port: int = 8084
    sink_secret: SecretStr | None = None

    @field_validator("intake_tokens")
    @classmethod
    def _hashed_tokens(cls, tokens: dict[str, str]) -> dict[str, str]:
        for source, digest in tokens.items():
            algo, _, hexdigest = digest.partition(":")
            if algo != "sha256" or len(hexdigest) != 64:
                raise ValueError(
                    f"token for source {source!r} must be stored as 'sha256:<64 hex>', "
                    "never in clear; create one with `escalation token new SOURCE`"
                )
            int(hexdigest, 16)
        return tokens

    @model_validator(mode="after")
    def _refuse_open_public_bind(self) -> Settings:
        if not self.intake_tokens and not is_loopback(self.intake_host):
            raise ValueError(
                f"intake_host {self.intake_host!r} is not a loopback address and no intake "
                "tokens are configured: set ESCALATION_INTAKE_TOKENS or bind 127.0.0.1"
            )
        return self

    @model_validator(mode="after")
    def _coherent_cluster_settings(self) -> Settings:
        if self.sasl and (not self.kafka_sasl_username or self.kafka_sasl_password is None):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "ESCALATION_KAFKA_SASL_USERNAME and ESCALATION_KAFKA_SASL_PASSWORD"
            )
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"kafka_min_insync_replicas {self.min_insync_replicas} exceeds "
                f"kafka_replication_factor {self.replication_factor}: no write could succeed"
            )
        return self

    @property
    def embedded(self) -> bool:
        return self.profile == "embedded"

    @property
    def sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def replication_factor(self) -> int:
        default = 1 if self.embedded else 3
        return self.kafka_replication_factor or default

    @property
    def min_insync_replicas(self) -> int:
        default = min(1 if self.embedded else 2, self.replication_factor)
        return self.kafka_min_insync_replicas or default

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for SSL and SASL_SSL, None for plaintext protocols."""
        if self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            return None
        from aiokafka.helpers import create_ssl_context

        return create_ssl_context(
            cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None,
            certfile=str(self.kafka_ssl_certfile) if self.kafka_ssl_certfile else None,
            keyfile=str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None,
        )

    def kafka_common(self) -> dict[str, Any]:
        """Connection options shared by every aiokafka client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.sasl:
            assert self.kafka_sasl_password is not None  # checked at load
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        return options

    def faust_credentials(self) -> Any:
        """The same authentication as ``kafka_common``, in the form faust takes."""
        import faust

        context = self.ssl_context()
        if self.sasl:
            assert self.kafka_sasl_password is not None  # checked at load
            return faust.SASLCredentials(
                username=self.kafka_sasl_username,
                password=self.kafka_sasl_password.get_secret_value(),
                ssl_context=context,  # SASL_SSL with a context, SASL_PLAINTEXT without
                mechanism=self.kafka_sasl_mechanism,
            )
        if context is not None:
            return faust.SSLCredentials(context)
        return None

    @property
    def single_record_batches(self) -> bool:
        return self.embedded and self.embedded_end_offsets == "single-record-batches"

    def producer_options(self, feeds_state_recovery: bool = False) -> dict[str, Any]:
        """aiokafka producer options for this profile.

        Production: acks=all with idempotence. Embedded (Tansu): the broker does not
        support idempotence; and after a multi-record batch it reports a wrong log-end
        offset, which state recovery trusts (docs/broker.md). Under the
        ``single-record-batches`` workaround a producer whose topic is replayed to rebuild
        state (``feeds_state_recovery``) sends one record per batch.
        """
        options = {
            **self.kafka_common(),
            "acks": "all",
            "client_id": self.kafka_client_id,
            "request_timeout_ms": int(self.kafka_request_timeout_seconds * 1000),
        }
        if self.embedded:
            options.update(enable_idempotence=False, linger_ms=1)
        else:
            options.update(enable_idempotence=True, linger_ms=5)
        if self.producer_linger_ms is not None:
            options["linger_ms"] = self.producer_linger_ms
        if feeds_state_recovery and self.single_record_batches:
            options.update(max_batch_size=16, linger_ms=0)
        return options

    def consumer_options(self, group_id: str) -> dict[str, Any]:
        options = {
            **self.kafka_common(),
            "group_id": group_id,
            "client_id": self.kafka_client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
        }
        if self.embedded:
            options.update(session_timeout_ms=6000, heartbeat_interval_ms=1000)
        return options

    def faust_options(self) -> dict[str, Any]:
        """faust app settings for this profile (see consumer/producer notes above)."""
        if not self.embedded:
            scheme = "kafka+idempotent"
        elif self.embedded_end_offsets == "fetch":
            scheme = "tansu"
        else:
            scheme = "kafka"
        options: dict[str, Any] = {
            "broker": ";".join(f"{scheme}://{host}" for host in self.kafka_bootstrap.split(",")),
            "broker_credentials": self.faust_credentials(),
            "store": self.store,
            "topic_partitions": self.kafka_partitions,
            "topic_replication_factor": self.replication_factor,
            "topic_allow_declare": not self.embedded,
            "topic_disable_leader": True,
            "producer_acks": -1,
            "producer_request_timeout": self.kafka_request_timeout_seconds,
            # Health pages are served by the service's own HTTP server (stream.py), which
            # answers before the broker does; faust's would start only after its producer.
            "web_enabled": False,
            "consumer_auto_offset_reset": "earliest",
            "datadir": str(self.data_dir),
            "table_cleanup_interval": 60.0,
        }
        if self.embedded:
            options.update(
                broker_session_timeout=6,
                broker_heartbeat_interval=1,
                broker_rebalance_timeout=10,
                stream_wait_empty=False,
            )
        if self.producer_linger_ms is not None:
            options["producer_linger"] = self.producer_linger_ms / 1000
        if self.single_record_batches:
            options.update(producer_max_batch_size=16, producer_linger=0.0)
        return options
