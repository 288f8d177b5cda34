"""The pager's HTTP transport: the same guard, answers and errors as httpx's own.

Each test talks to a tiny HTTP server on loopback (asyncio streams), so what is checked
is what reaches ``delivery.classify``: an httpx response with its status, headers and
body, or the httpx error it classifies (refused, timed out, not connected).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from yarl import URL

from escalation.policy.outbound import OutboundRules
from escalation.services.common.broker import free_port
from escalation.services.pager.delivery import classify
from escalation.services.pager.outbound import OutboundRefused
from escalation.services.pager.transport import AiohttpTransport, Post

EMBEDDED = OutboundRules.from_environ({})
Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def server(answer: Answer) -> AsyncIterator[str]:
    """A loopback HTTP server whose every connection is handled by ``answer``."""
    listening = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/pages"
    finally:
        listening.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


def post(url: str, within: float = 2.0) -> httpx.Request:
    request = httpx.Request(
        "POST", url, content=b'{"page":1}', headers={"webhook-id": "msg_1", "x-kind": "test"}
    )
    request.extensions["timeout"] = httpx.Timeout(within).as_dict()
    return request


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    made = AiohttpTransport(EMBEDDED, ssl.create_default_context(), timeout=5.0)
    yield made
    await made.aclose()


async def test_the_answer_arrives_whole_with_its_status_and_headers(transport):
    seen: list[tuple[bytes, bytes]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nslow"
        )
        await writer.drain()
        writer.close()

    async with server(answer) as url:
        response = await transport.handle_async_request(post(url))
    assert response.status_code == 429 and response.content == b"slow"
    verdict = classify(response)
    assert (verdict.outcome, verdict.reason, verdict.retry_after) == ("retry", "http_429", 7.0)
    head, body = seen[0]
    assert body == b'{"page":1}'
    assert b"webhook-id: msg_1" in head.lower() and b"x-kind: test" in head.lower()


async def test_a_targets_post_gets_the_same_answer_and_errors_without_httpx_objects(transport):
    seen: list[tuple[bytes, bytes]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 503 Unavailable\r\nretry-after: 3\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with server(answer) as url:
        sent = Post(URL(url + "/T%2F1", encoded=True), b'{"page":1}', {"webhook-id": "msg_1"})
        verdict = classify(await transport.post(sent, 2.0))
    assert (verdict.outcome, verdict.reason, verdict.retry_after) == ("retry", "http_5xx", 3.0)
    head, body = seen[0]
    assert head.startswith(b"POST /pages/T%2F1 HTTP/1.1") and body == b'{"page":1}'
    with pytest.raises(httpx.ConnectError):
        await transport.post(Post(URL(f"http://127.0.0.1:{free_port()}/"), b"", {}), 2.0)


async def test_a_redirect_is_not_followed(transport):
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\n")
        writer.write(b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with server(answer) as url:
        response = await transport.handle_async_request(post(url))
    assert response.status_code == 307
    assert classify(response).outcome == "rejected"


async def test_a_receiver_that_never_answers_is_a_timeout(transport):
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with server(answer) as url:
        with pytest.raises(httpx.TimeoutException) as caught:
            await transport.handle_async_request(post(url, within=0.2))
    assert classify(None, caught.value).reason == "timeout"


async def test_nobody_listening_is_a_connect_error(transport):
    with pytest.raises(httpx.ConnectError) as caught:
        await transport.handle_async_request(post(f"http://127.0.0.1:{free_port()}/pages"))
    assert classify(None, caught.value).reason == "connect"


async def test_an_address_the_rules_refuse_is_never_connected_to():
    production = OutboundRules.from_environ({"ESCALATION_PROFILE": "production"})
    guarded = AiohttpTransport(production, ssl.create_default_context(), timeout=5.0)
    try:
        with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
            await guarded.handle_async_request(post(f"http://127.0.0.1:{free_port()}/pages"))
        with pytest.raises(OutboundRefused, match="localhost may not be paged"):
            await guarded.handle_async_request(post(f"http://localhost:{free_port()}/pages"))
    finally:
        await guarded.aclose()


async def test_the_url_is_sent_as_httpx_encoded_it(transport):
    lines: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        lines.append(head.split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()

    async with server(answer) as url:
        await transport.handle_async_request(post(url + "/T%2F1?token=a%20b&x=%7E"))
    assert lines == [b"POST /pages/T%2F1?token=a%20b&x=%7E HTTP/1.1"]
