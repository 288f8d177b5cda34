"""Page receivers as processes of their own, recording every delivery, duplicates included.

``python -m tests.integration.receivers http PORT`` serves one behaviour per path:

- ``/ok``: 200 at once;
- ``/flaky``: 500 for the first request of each id, then 200;
- ``/ratelimit``: 429 with ``Retry-After: 2`` for the first request of each id, then 200;
- ``/slow``: never answers in time (holds the request 60 s);
- ``/reject``: 400 until told otherwise (``POST /control {"path": "/reject", "ok": true}``);
- ``/kill``: once armed with a pid (``POST /control {"kill": PID}``), SIGKILLs it on the
  first request, before answering, then answers 200 to every later one.

The id is the ``webhook-id`` header, or a PagerDuty body's ``dedup_key``. ``GET
/deliveries`` lists every request, repeats included, as ``{"at", "path", "id",
"verified", "headers", "body", "status"}``; ``verified`` says whether the Standard
Webhooks signature holds under ``RECEIVER_SECRET`` (null: no secret given, or unsigned).

``python -m tests.integration.receivers smtp PORT CERT KEY OUT`` is an SMTP server
(aiosmtpd) that requires STARTTLS and a login (``pager`` / ``pw``), and appends each
message to the JSON-lines file OUT.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from escalation.services.pager.signing import SignatureError, verify

LOCK = threading.Lock()
DELIVERIES: list[dict[str, Any]] = []
SEEN: set[tuple[str, str]] = set()
STATE: dict[str, Any] = {"reject_ok": False, "kill": None}


def _id(headers: dict[str, str], body: bytes) -> str:
    if "webhook-id" in headers:
        return headers["webhook-id"]
    try:
        return str(json.loads(body).get("dedup_key", ""))
    except ValueError:
        return ""


def _verified(headers: dict[str, str], body: bytes) -> bool | None:
    secret = os.environ.get("RECEIVER_SECRET")
    if not secret or "webhook-signature" not in headers:
        return None
    try:
        verify(secret, headers, body, int(time.time()))
    except SignatureError:
        return False
    return True


def _status(path: str, ident: str) -> int:
    with LOCK:
        first = (path, ident) not in SEEN
        SEEN.add((path, ident))
        if path == "/kill" and STATE["kill"] is not None:
            pid, STATE["kill"] = STATE["kill"], None
            os.kill(pid, signal.SIGKILL)
    if path == "/flaky":
        return 500 if first else 200
    if path == "/ratelimit":
        return 429 if first else 200
    if path == "/reject":
        return 200 if STATE["reject_ok"] else 400
    if path == "/slow":
        time.sleep(60)
    return 200


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        at = time.time()
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/control":
            command = json.loads(body)
            with LOCK:
                if "kill" in command:
                    STATE["kill"] = int(command["kill"])
                if command.get("path") == "/reject":
                    STATE["reject_ok"] = bool(command["ok"])
            return self._answer(204)
        headers = {k.lower(): v for k, v in self.headers.items()}
        ident = _id(headers, body)
        status = _status(self.path, ident)
        with LOCK:
            DELIVERIES.append(
                {
                    "at": at,
                    "path": self.path,
                    "id": ident,
                    "verified": _verified(headers, body),
                    "headers": headers,
                    "body": body.decode(),
                    "status": status,
                }
            )
        extra = {"retry-after": "2"} if status == 429 else {}
        self._answer(status, extra)

    def do_GET(self) -> None:
        with LOCK:
            content = json.dumps(DELIVERIES).encode()
        self._answer(200, {"content-type": "application/json"}, content)

    def _answer(
        self, status: int, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_http(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening", flush=True)
    server.serve_forever()


def serve_smtp(port: int, cert: str, key: str, out: str) -> None:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Record:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            entry = {
                "at": time.time(),
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "tls": session.ssl is not None,
                "login": session.authenticated,
                "data": envelope.content.decode("utf-8", "replace"),
            }
            with open(out, "a") as file:  # noqa: ASYNC230 - a test server, one line
                file.write(json.dumps(entry) + "\n")
            return "250 OK"

    def login(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
        ok = auth.login == b"pager" and auth.password == b"pw"
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Record(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=login,
        auth_require_tls=True,
    )
    controller.start()
    print("listening", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "http":
        serve_http(port)
    else:
        serve_smtp(port, *sys.argv[3:6])
