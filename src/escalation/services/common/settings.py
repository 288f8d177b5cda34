"""Settings from ``ESCALATION_*`` environment variables, with embedded and production profiles."""

from __future__ import annotations

import ipaddress
import re
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .credentials import MissingSetting, TokenGrant, hashed_digest, key_list
from .links import MIN_KEY_CHARS

Profile = Literal["embedded", "production"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
_DURATION = re.compile(r"(\d+)([dhms]?)")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}


def _duration(value: Any) -> Any:
    """Environment text as a duration: seconds ("3600"), "365d", "12h", or ISO 8601 ("P1D")."""
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]

KAFKA_FETCH_MAX_WAIT_MS = 500
"""Kafka's own default: a waiting fetch is answered as soon as a record arrives."""
EMBEDDED_FETCH_MAX_WAIT_MS = 20
"""Tansu answers a waiting fetch only when its wait ends (docs/broker.md)."""
EMBEDDED_CONTROLS_FETCH_MAX_WAIT_MS = 250
"""The controls readers' wait on Tansu: a silence or surge is read at most this late, and
three readers polling every 20 ms cost the broker about 7 % of a core doing nothing."""


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
        description="how long intake's producer waits to fill a batch (default 5); faust's "
        "producers (escalator, pager) take it when set, else 1 embedded and 0 production",
    )
    consumer_fetch_max_wait_ms: int | None = Field(
        default=None,
        ge=1,
        le=30_000,
        description="how long the broker may hold a fetch that finds no new record (default: "
        f"{KAFKA_FETCH_MAX_WAIT_MS} production, Kafka's default; {EMBEDDED_FETCH_MAX_WAIT_MS} "
        "embedded, because Tansu answers a waiting fetch only when the wait ends, even when "
        "records arrive meanwhile: the wait becomes latency at every hop; docs/broker.md)",
    )
    controls_fetch_max_wait_ms: int | None = Field(
        default=None,
        ge=1,
        le=30_000,
        description="the fetch wait of the controls readers (each escalator worker and intake), "
        f"which follow a topic written a few times a day (default: {KAFKA_FETCH_MAX_WAIT_MS} "
        f"production, where a record ends the wait at once; {EMBEDDED_CONTROLS_FETCH_MAX_WAIT_MS} "
        "embedded, where it is how late a new silence or surge can be seen: each fetch costs "
        "Tansu about 0.5 ms of CPU, so polling an idle topic every 20 ms is not free)",
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
    log_redact: Annotated[list[str], NoDecode, BeforeValidator(key_list)] = Field(
        default_factory=list,
        description="field names whose values logs never show (comma-separated), besides "
        "a contact's summary, which is always redacted: e.g. email,phone,account",
    )
    broker_probe_seconds: float = Field(
        default=15.0,
        gt=0,
        description="how often each service asks the broker for metadata (escalation_broker_up)",
    )

    # intake
    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    intake_tokens: dict[str, str | TokenGrant] = Field(
        default_factory=dict,
        description="name -> 'sha256:<hex>' of its bearer token (a source that may post "
        "contacts), or {'digest': 'sha256:<hex>', 'scopes': ['contacts', 'escalations']}",
    )
    intake_max_body_bytes: int = 1024 * 1024
    intake_max_event_bytes: int = 64 * 1024
    intake_max_batch: int = 1000
    intake_dedup_window: int = Field(default=200_000, ge=0)
    intake_rate_per_source: float = Field(default=20_000.0, gt=0, description="events/s")
    intake_burst_per_source: float = Field(default=40_000.0, gt=0)
    intake_public_url: str | None = None
    intake_max_event_age: Duration = Field(
        default=timedelta(days=365),
        gt=timedelta(0),
        le=timedelta(days=36500),
        description="how far before intake's clock an occurred_at may lie",
    )
    intake_max_clock_skew: Duration = Field(
        default=timedelta(days=1),
        ge=timedelta(0),
        le=timedelta(days=365),
        description="how far after intake's clock an occurred_at may lie (a sender's clock "
        "running ahead)",
    )
    intake_broker_deadline_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="how long intake waits for the broker to acknowledge a write before "
        "answering 503 with Retry-After",
    )

    # signed ack and resolve links: the pager signs with the first key, intake verifies
    link_keys: Annotated[list[SecretStr], NoDecode, BeforeValidator(key_list)] = Field(
        default_factory=list,
        description="HMAC keys for ack/resolve links, newest first (required in production)",
    )
    link_ttl: Duration = Field(
        default=timedelta(days=7),
        ge=timedelta(minutes=1),
        le=timedelta(days=90),
        description="how long a page's ack and resolve links work, from when it was made",
    )

    # stream services (router, escalator, pager): port for healthz/readyz/metrics
    router_port: int = 8081
    escalator_port: int = 8082
    pager_port: int = 8083
    surge_port: int = 8085
    web_host: str = "127.0.0.1"
    data_dir: Path = Path(".escalation")
    store: str = "memory://"

    # escalator: timers and the query API
    escalator_tick_idle_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="the longest the escalator's timer task sleeps between looks at its "
        "deadlines (it wakes sooner for a deadline it knows of)",
    )
    escalator_batch_size: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="the most inputs the escalator decides and writes as one batch (one "
        "broker round trip per batch for its outputs, one for its state)",
    )
    escalator_batch_seconds: float = Field(
        default=0.02,
        gt=0,
        le=5,
        description="how long the escalator waits for a batch to fill before it takes what it has",
    )
    escalator_url: str | None = Field(
        default=None,
        description="where intake sends queries for the escalator's state (any worker); "
        "default http://127.0.0.1:<escalator_port>",
    )
    escalator_advertised_url: str | None = Field(
        default=None,
        description="how the other escalator workers reach this one's web port, to forward "
        "a query for a customer it holds; default http://<web_host>:<escalator_port>",
    )

    # pager
    pager_timeout_seconds: float = Field(default=5.0, gt=0, description="one attempt")
    pager_max_attempts: int = Field(default=8, ge=1)
    pager_backoff_base_seconds: float = Field(default=0.5, gt=0)
    pager_backoff_max_seconds: float = Field(default=30.0, gt=0)
    pager_deadline_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how long one page may take to reach a target, retries included; a "
        "target's `deadline` in the policy overrides it",
    )
    pager_breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failed attempts that open a target's circuit"
    )
    pager_breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="how long a circuit stays open before one trial"
    )
    pager_lane_concurrency: int = Field(
        default=4, ge=1, le=64, description="deliveries in flight per target"
    )
    pager_lane_capacity: int = Field(
        default=1000, ge=1, description="pages waiting per target before new ones fall back"
    )
    pager_delivered_horizon: Duration = Field(
        default=timedelta(days=7),
        ge=timedelta(minutes=1),
        description="how long the pager remembers a delivered page (a replay older than "
        "this delivers again)",
    )
    pager_allow_networks: str = Field(
        default="",
        description="comma-separated networks pages may go to besides public addresses "
        "(the embedded profile adds loopback)",
    )
    pager_expand_prefixes: str = Field(
        default="ESCALATION_TARGET_",
        description="comma-separated prefixes of the variables ${VAR} in a target may read",
    )
    pager_ca_file: Path | None = Field(
        default=None, description="extra CA certificates (PEM) trusted for HTTPS and SMTP"
    )

    # local page sink (embedded stack)
    sink_port: int = 8084
    sink_secret: SecretStr | None = None

    # TEST ONLY: kill the process at a crash point (services/common/crashpoints.py)
    crash_at: str | None = Field(
        default=None,
        description="test only: '<point>:<n>' sends the process SIGKILL the n-th time it "
        "crosses <point>; refused under the production profile",
    )

    @field_validator("intake_tokens")
    @classmethod
    def _hashed_tokens(cls, tokens: dict[str, str | TokenGrant]) -> dict[str, str | TokenGrant]:
        return {
            name: hashed_digest(name, grant)
            if isinstance(grant, str)
            else TokenGrant(
                digest=hashed_digest(name, grant.digest), scopes=sorted(set(grant.scopes))
            )
            for name, grant in tokens.items()
        }

    @field_validator("link_keys")
    @classmethod
    def _strong_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(keys):
            if len(key.get_secret_value()) < MIN_KEY_CHARS:
                raise ValueError(
                    f"link key {index} is shorter than {MIN_KEY_CHARS} characters; "
                    "make one with `escalation link-key new`"
                )
        return keys

    @field_validator("pager_allow_networks")
    @classmethod
    def _networks(cls, text: str) -> str:
        from escalation.policy.outbound import parse_networks

        parse_networks(text)
        return text

    @field_validator("pager_expand_prefixes")
    @classmethod
    def _prefixes(cls, text: str) -> str:
        from escalation.policy.outbound import parse_prefixes

        parse_prefixes(text)
        return text

    @field_validator("crash_at")
    @classmethod
    def _known_crash_point(cls, spec: str | None) -> str | None:
        from .crashpoints import parse

        if spec:
            parse(spec)
        return spec or None

    @model_validator(mode="after")
    def _refuse_crash_points_in_production(self) -> Settings:
        if self.crash_at and self.profile == "production":
            raise ValueError(
                "ESCALATION_CRASH_AT is a test setting that kills the service on purpose; "
                "unset it (it is refused under ESCALATION_PROFILE=production)"
            )
        return self

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

    def token_grants(self) -> dict[str, TokenGrant]:
        """Every intake token with its scopes; a bare digest is a contacts-only source."""
        return {
            name: TokenGrant(digest=grant, scopes=["contacts"]) if isinstance(grant, str) else grant
            for name, grant in self.intake_tokens.items()
        }

    def link_key_values(self) -> list[str]:
        """The link keys, newest first; in production none is a refusal to start.

        Only the pager and intake hold the keys (they sign and verify), so the check is
        theirs to call at start rather than every service's: the router never needs them.
        """
        keys = [key.get_secret_value() for key in self.link_keys]
        if not keys and not self.embedded:
            raise MissingSetting(
                "link_keys",
                "required in production: ack and resolve links are signed with it; "
                "make one with `escalation link-key new`",
            )
        return keys

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

    @property
    def linger_ms(self) -> int:
        """Intake's linger: 5 ms batches a busy intake's records into fewer requests (at
        1,000 single-event POSTs/s on the embedded broker, 15-30 % less broker CPU per
        contact than 1 ms). The router builds its own batches and sends them at once."""
        return 5 if self.producer_linger_ms is None else self.producer_linger_ms

    @property
    def faust_linger_ms(self) -> int | None:
        """faust's producers: production keeps faust's 0 unless set; embedded takes 1 ms
        (measured when the escalator awaited each record: about 10 % less CPU per
        contact). The escalator's batches leave as closed record batches, which no linger
        delays, so it now touches the timer task's ticks and the pager's sends."""
        if self.producer_linger_ms is not None:
            return self.producer_linger_ms
        return 1 if self.embedded else None

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
            "enable_idempotence": not self.embedded,
            "linger_ms": self.linger_ms,
            "request_timeout_ms": int(self.kafka_request_timeout_seconds * 1000),
        }
        if feeds_state_recovery and self.single_record_batches:
            options.update(max_batch_size=16, linger_ms=0)
        return options

    @property
    def fetch_max_wait_ms(self) -> int:
        """The fetch wait of every consumer: group members, state recovery and faust's."""
        if self.consumer_fetch_max_wait_ms is not None:
            return self.consumer_fetch_max_wait_ms
        return EMBEDDED_FETCH_MAX_WAIT_MS if self.embedded else KAFKA_FETCH_MAX_WAIT_MS

    @property
    def controls_fetch_wait_ms(self) -> int:
        """The controls readers' fetch wait (``controls_fetch_max_wait_ms``, else its default)."""
        if self.controls_fetch_max_wait_ms is not None:
            return self.controls_fetch_max_wait_ms
        return EMBEDDED_CONTROLS_FETCH_MAX_WAIT_MS if self.embedded else KAFKA_FETCH_MAX_WAIT_MS

    def reader_options(self) -> dict[str, Any]:
        """A consumer outside any group (state recovery): connection and fetch wait."""
        return {
            **self.kafka_common(),
            "group_id": None,
            "enable_auto_commit": False,
            "fetch_max_wait_ms": self.fetch_max_wait_ms,
        }

    def consumer_options(self, group_id: str) -> dict[str, Any]:
        options = {
            **self.kafka_common(),
            "group_id": group_id,
            "client_id": self.kafka_client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": self.fetch_max_wait_ms,
        }
        if self.embedded:
            options.update(session_timeout_ms=6000, heartbeat_interval_ms=1000)
        return options

    @property
    def escalator_query_url(self) -> str:
        return (self.escalator_url or f"http://127.0.0.1:{self.escalator_port}").rstrip("/")

    @property
    def escalator_own_url(self) -> str:
        url = self.escalator_advertised_url or f"http://{self.web_host}:{self.escalator_port}"
        return url.rstrip("/")

    def faust_options(self) -> dict[str, Any]:
        """faust app settings for this profile (see consumer/producer notes above).

        faust has no setting for its consumer's fetch wait (it hardcodes 1500 ms): the
        project's transports read it from the broker URL (services/common/transports.py).
        """
        scheme = "tansu" if self.embedded else "kafka+idempotent"
        query = f"fetch_max_wait_ms={self.fetch_max_wait_ms}"
        if self.embedded and self.embedded_end_offsets != "fetch":
            query += "&end_offsets=broker"
        options: dict[str, Any] = {
            "broker": ";".join(
                f"{scheme}://{host}?{query}" for host in self.kafka_bootstrap.split(",")
            ),
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
        if self.faust_linger_ms is not None:
            options["producer_linger"] = self.faust_linger_ms / 1000
        if self.single_record_batches:
            options.update(producer_max_batch_size=16, producer_linger=0.0)
        return options
