"""What `make run` shows a newcomer: the demo's stories become signed pages, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from escalation.testing.stack import ROOT, eventually, listening, port_block

pytestmark = pytest.mark.integration


def test_demo_prints_signed_pages_and_stops_cleanly_on_ctrl_c():
    base = port_block()
    process = subprocess.Popen(
        [sys.executable, "-m", "escalation", "up", "--demo", "--port-base", str(base)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        text = lambda: "\n".join(lines)  # noqa: E731

        def three_pages() -> bool:
            assert process.poll() is None, f"the stack exited early:\n{text()}"
            return text().count("PAGE [escalation.paged]") >= 3

        try:
            eventually(three_pages, "three demo pages", 90)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; output so far:\n{text()}") from None
        output = text()
        assert "demo: sent config/demo.jsonl (8 accepted, 1 duplicates, 0 rejected)" in output
        assert "why:      urgency.critical" in output  # the VIP's projector
        assert "customer: C-2001 (vip)" in output
        assert "why:      repeat.contacts: 3 contacts within 72h" in output  # the AC
        assert "customer: C-1042 (standard)" in output
        # Four customers, one water heater: one surge page for product quality.
        assert "why:      surge.opened: 4 customers reported product WH-50" in output
        # The customers in the order they reported, which partitions may interleave.
        (affected,) = [x for x in lines if x.strip().startswith("affected:")]
        counts, named = affected.split(": ", 1)[1].split(": ")
        assert counts == "4 customers, 4 issues"
        assert sorted(named.split(", ")) == ["C-3101", "C-3102", "C-3103", "C-3104"]
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
        reader.join(5)
    assert code == 0, "\n".join(lines[-30:])
    assert lines[-1] == "stopped; no process left behind"
    ports = [base + offset for offset in (0, 1, 2, 3, 4, 5, 12)]
    assert [p for p in ports if listening(p)] == []
    assert "\n".join(lines).count("PAGE [escalation.paged]") == 3
