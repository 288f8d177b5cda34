"""Peer: Prometheus Alertmanager doing the critical-burst shape, on the same machine, same run.

N alerts, each its own group (one customer issue each), posted in batches of 100 to
``/api/v2/alerts`` and delivered to a loopback webhook; the clock runs from the first
POST to the last alert's arrival at the webhook. Needs Debian's
``prometheus-alertmanager`` (or ``alertmanager``) on PATH; without it the bench says so
and goes on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from escalation.services.common.broker import free_port

from .cpu import stop
from .load import percentile

CONFIG = """route:
  receiver: hook
  group_by: ['alertname', 'customer']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{port}/hook
        send_resolved: false
"""


def binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _hook(arrived: dict[str, float]) -> type[BaseHTTPRequestHandler]:
    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            now = time.monotonic()
            for alert in body.get("alerts", []):
                arrived.setdefault(alert["labels"]["customer"], now)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Hook


def _post(url: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        url, json.dumps(alerts).encode(), {"content-type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request, timeout=30).read()


def alertmanager_burst(n: int, batch: int = 100, limit: float = 120.0) -> dict[str, float]:
    """Alerts/s from first POST to last webhook arrival, and latency p50/p99 (ms)."""
    program = binary()
    assert program is not None
    arrived: dict[str, float] = {}
    hook = ThreadingHTTPServer(("127.0.0.1", free_port()), _hook(arrived))
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-alertmanager-") as tmp:
        config = Path(tmp) / "am.yml"
        config.write_text(CONFIG.format(port=hook.server_address[1]))
        argv = [
            program,
            f"--config.file={config}",
            f"--storage.path={tmp}/data",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
        manager = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            posted: dict[str, float] = {}
            started = time.monotonic()
            for first in range(0, n, batch):
                alerts = [
                    {"labels": {"alertname": "contact", "customer": f"c-{i}"}}
                    for i in range(first, min(n, first + batch))
                ]
                sent = time.monotonic()
                _post(f"http://127.0.0.1:{port}/api/v2/alerts", alerts)
                posted.update((a["labels"]["customer"], sent) for a in alerts)
            deadline = time.monotonic() + limit
            while len(arrived) < n and time.monotonic() < deadline:
                time.sleep(0.1)
            latencies = [arrived[k] - posted[k] for k in arrived if k in posted]
            end = max(arrived.values()) if arrived else time.monotonic()
            return {
                "notified": len(arrived),
                "rate": len(arrived) / (end - started),
                "p50_ms": percentile(latencies, 0.5) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
            }
        finally:
            stop(manager, within=10)
            hook.shutdown()
            hook.server_close()
