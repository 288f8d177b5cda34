"""Intake service: the HTTP front door that writes contact events and commands to Kafka."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiokafka import AIOKafkaProducer

from escalation.services.common.broker import until_broker_answers
from escalation.services.common.broker_probe import metadata_probe, watch_broker
from escalation.services.common.http import HttpApp, Request, Response, serve
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.common.settings import Settings

from . import openapi
from .service import Intake, Reply

log = structlog.get_logger(__name__)


def _response(reply: Reply) -> Response:
    return Response(reply.status, reply.body, reply.content_type, reply.headers)


def build_http(intake: Intake, metrics: ServiceMetrics, settings: Settings) -> HttpApp:
    http = HttpApp(metrics, settings.intake_max_body_bytes)
    http.ready = intake.readiness

    async def contacts(request: Request) -> Response:
        return _response(await intake.post_contacts(request.headers, request.body))

    def command(action: str):
        async def handler(request: Request) -> Response:
            return _response(
                await intake.post_command(
                    request.params["escalation_id"], action, request.headers, request.body
                )
            )

        return handler

    def link_page(action: str):
        async def handler(request: Request) -> Response:
            return _response(
                await intake.link_page(request.params["escalation_id"], action, request.query)
            )

        return handler

    async def escalation(request: Request) -> Response:
        return _response(
            await intake.get_escalations(
                request.path, request.query, request.headers, request.params["escalation_id"]
            )
        )

    async def escalations(request: Request) -> Response:
        return _response(
            await intake.get_escalations(request.path, request.query, request.headers, None)
        )

    async def silence_post(request: Request) -> Response:
        return _response(await intake.post_silence(request.headers, request.body))

    async def silence_list(request: Request) -> Response:
        return _response(await intake.get_silences(request.headers, request.query))

    async def silence_delete(request: Request) -> Response:
        return _response(await intake.delete_silence(request.params["silence_id"], request.headers))

    http.route("POST", "/v1/contacts", contacts)
    http.route("POST", "/v1/silences", silence_post)
    http.route("GET", "/v1/silences", silence_list)
    http.route("DELETE", "/v1/silences/{silence_id}", silence_delete)
    # Queries, answered by the escalator from its state; intake checks the token.
    http.route("GET", "/v1/escalations/{escalation_id}", escalation)
    http.route("GET", "/v1/escalations", escalations)
    # A page's signed links open a confirm page here; its button posts the command.
    http.route("GET", "/v1/escalations/{escalation_id}/ack", link_page("ack"))
    http.route("GET", "/v1/escalations/{escalation_id}/resolve", link_page("resolve"))
    http.route("POST", "/v1/escalations/{escalation_id}/ack", command("ack"))
    http.route("POST", "/v1/escalations/{escalation_id}/resolve", command("resolve"))
    http.route("POST", "/v1/escalations/{escalation_id}/reopen", command("reopen"))
    http.route("POST", "/v1/escalations/{escalation_id}/reassign", command("reassign"))
    openapi.describe(http.api)
    return http


async def run(settings: Settings) -> None:
    """Serve at once, connect in the background.

    ``/healthz`` answers as soon as the process runs and ``/readyz`` only once the
    producer is connected, so an orchestrator's liveness probe does not restart intake
    while the broker is down; meanwhile writes are answered 503 with Retry-After.
    """
    metrics = ServiceMetrics("intake")
    producer = AIOKafkaProducer(**settings.producer_options())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    intake = Intake(settings, producer, metrics)
    http = build_http(intake, metrics, settings)
    log.info(
        "intake.listening",
        host=settings.intake_host,
        port=settings.intake_port,
        auth="tokens" if settings.intake_tokens else "open (loopback only)",
        links="signed" if settings.link_keys else "no link keys: page links do nothing",
    )
    server = asyncio.create_task(serve(http, settings.intake_host, settings.intake_port, stop))
    connect = asyncio.create_task(_connect(intake, producer, stop))
    probe = metadata_probe(settings.kafka_common())
    broker = asyncio.create_task(
        watch_broker(probe, metrics.broker_up, stop, settings.broker_probe_seconds)
    )
    controls = intake.silence_view.reader(settings)
    await controls.start()
    try:
        done, _ = await asyncio.wait({server, connect}, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a server that could not bind, a bug while connecting: exit
        await server
    finally:
        stop.set()
        connect.cancel()
        await asyncio.gather(server, connect, broker, return_exceptions=True)
        await controls.stop()
        await producer.stop()
        await intake.queries.close()
        log.info("intake.stopped")


async def _connect(intake: Intake, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
    if await until_broker_answers(producer.start, stop, "intake producer"):
        intake.connected = True
        log.info("intake.connected")
