"""The pager's HTTP transport: the same guard, answers and errors as httpx's own.

Each test talks to a tiny HTTP server on loopback (asyncio streams), so what is checked
is what reaches ``delivery.classify``: an httpx response with its status, headers and
body, or the httpx error it classifies (refused, timed out, not connected).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

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


def sent(url: str, headers: dict[str, str] | None = None) -> Post:
    return Post(URL(url, encoded=True), b'{"page":1}', headers or {"webhook-id": "msg_1"})


async def test_a_targets_posts_share_one_kept_alive_connection(transport):
    connections: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        with contextlib.suppress(asyncio.IncompleteReadError):
            while True:
                await read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()

    async with server(answer) as url:
        answers = [await transport.post(sent(url), 2.0) for _ in range(3)]
    assert [(a.status_code, a.content) for a in answers] == [(200, b"ok")] * 3
    assert len(connections) == 1


async def test_a_connection_the_receiver_dropped_while_idle_is_replaced_once(transport):
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()  # kept alive by the answer, closed by the receiver anyway

    async with server(answer) as url:
        first = await transport.post(sent(url), 2.0)
        await asyncio.sleep(0.05)
        second = await transport.post(sent(url), 2.0)
    assert (first.status_code, second.status_code) == (200, 200)


async def test_a_chunked_answer_or_one_ended_by_closing_arrives_whole(transport):
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"3\r\nbad\r\n0\r\n\r\n")
        await writer.drain()

    async def unframed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\ntaken")
        await writer.drain()
        writer.close()

    async with server(chunked) as url:
        bad = await transport.post(sent(url), 2.0)
    async with server(unframed) as url:
        taken = await transport.post(sent(url), 2.0)
    assert (bad.status_code, bad.content) == (500, b"bad")
    assert (taken.status_code, taken.content) == (202, b"taken")


async def test_a_post_that_gets_no_answer_times_out_and_a_header_break_is_refused(transport):
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with server(answer) as url:
        with pytest.raises(httpx.TimeoutException) as caught:
            await transport.post(sent(url), 0.2)
        with pytest.raises(ValueError, match="line break"):
            await transport.post(sent(url, {"x-evil": "a\r\nx-injected: 1"}), 0.2)
    assert classify(None, caught.value).reason == "timeout"


async def test_a_post_to_an_address_the_rules_refuse_is_never_connected_to():
    production = OutboundRules.from_environ({"ESCALATION_PROFILE": "production"})
    guarded = AiohttpTransport(production, ssl.create_default_context(), timeout=5.0)
    try:
        for host in ("127.0.0.1", "localhost"):
            with pytest.raises(OutboundRefused):
                await guarded.post(sent(f"http://{host}:{free_port()}/pages"), 2.0)
    finally:
        await guarded.aclose()


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
async def test_a_post_over_tls_verifies_the_receivers_certificate(tmp_path):
    cert, key = self_signed(tmp_path)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()

    listening = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=serving)
    url = f"https://127.0.0.1:{listening.sockets[0].getsockname()[1]}/pages"
    trusting = AiohttpTransport(EMBEDDED, ssl.create_default_context(cafile=cert), timeout=5.0)
    stranger = AiohttpTransport(EMBEDDED, ssl.create_default_context(), timeout=5.0)
    try:
        taken = await trusting.post(sent(url), 2.0)
        assert (taken.status_code, taken.content) == (200, b"ok")
        with pytest.raises(httpx.ConnectError):
            await stranger.post(sent(url), 2.0)
    finally:
        await trusting.aclose()
        await stranger.aclose()
        listening.close()
