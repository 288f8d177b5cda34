"""Progress of `escalation send` and `policy replay`: a bar on a terminal, lines elsewhere."""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import httpx

from escalation.cli import replay as replay_cli
from escalation.cli.progress import Progress, clock_text
from escalation.cli.send import send_file
from escalation.schemas import codec
from tests.unit.factories import contact_data

EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.example.yaml"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Ticks:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def history(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "history.jsonl"
    lines = [codec.dumps(contact_data(event_id=f"e-{i}", issue_key=f"t-{i}")) for i in range(count)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def intake(request: httpx.Request) -> httpx.Response:
    body = codec.loads_plain(request.content)
    events = body if isinstance(body, list) else [body]
    return httpx.Response(202, json={"accepted": [e["event_id"] for e in events], "duplicates": []})


def test_a_terminal_gets_one_redrawn_bar_with_rate_and_eta_then_a_clean_line():
    out = Terminal()
    progress = Progress(100, "send x.jsonl", out=out, clock=Ticks())
    for done in (25, 50):
        progress.update(done)
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 2 and "\n" not in out.getvalue()
    assert re.search(r"send x\.jsonl \[#{6}\.{18}\]  25%  25 events  25/s  ETA 0:03", frames[0])
    assert "50%  50 events  25/s  ETA 0:02" in frames[1]
    progress.close()
    assert out.getvalue().endswith("\r" + " " * len(frames[1]) + "\r")


def test_elsewhere_plain_lines_at_an_interval_and_a_last_one():
    out = io.StringIO()
    progress = Progress(1000, "replay h.jsonl", unit="events", out=out, clock=Ticks(), every=3)
    for done in range(100, 1001, 100):
        progress.update(done, count=done // 10)
    progress.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "replay h.jsonl: 30%, 30 events, 10 events/s, ETA 0:07"
    assert len(lines) == 4  # every third second, and the last
    assert lines[-1].startswith("replay h.jsonl: 100%, 100 events") and "in 0:11" in lines[-1]


def test_clock_text_reads_like_a_clock():
    assert [clock_text(s) for s in (0, 59.6, 61, 3600 + 62)] == ["0:00", "1:00", "1:01", "1:01:02"]


def test_send_reports_progress_by_event_and_sends_everything(tmp_path):
    path = history(tmp_path, 40)
    out = io.StringIO()
    result = send_file(
        path,
        "http://intake",
        batch=10,
        progress=lambda total: Progress(total, "send", out=out, clock=Ticks(), every=1),
        transport=httpx.MockTransport(intake),
    )
    assert result == (40, 0, 0)
    assert out.getvalue().splitlines()[:2] == [
        "send: 25%, 10 events, 10 events/s, ETA 0:03",
        "send: 50%, 20 events, 10 events/s, ETA 0:02",
    ]
    assert out.getvalue().splitlines()[-1].startswith("send: 100%, 40 events")


def test_send_on_a_terminal_draws_the_bar(tmp_path):
    out = Terminal()
    send_file(
        history(tmp_path, 5),
        "http://intake",
        progress=lambda total: Progress(total, "send", out=out, clock=Ticks()),
        transport=httpx.MockTransport(intake),
    )
    assert "send [" in out.getvalue() and "5 events" in out.getvalue()
    assert not out.getvalue().endswith("\n")


def test_replay_reports_progress_by_bytes_read(tmp_path, capsys, monkeypatch):
    path = history(tmp_path, 30)
    monkeypatch.setattr(replay_cli, "Progress", lambda *a, **kw: Progress(*a, clock=Ticks(), **kw))
    args = argparse.Namespace(
        file=EXAMPLE_POLICY, history=path, against=None, json=True, decisions=None
    )
    assert replay_cli.replay(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("replay history.jsonl: 100%, 30 events")
    assert all(line.startswith("replay history.jsonl: ") for line in err)


def test_a_run_too_short_for_a_line_stays_quiet():
    out = io.StringIO()
    progress = Progress(10, "send", out=out, clock=Ticks(), every=60)
    progress.update(10)
    progress.close()
    assert out.getvalue() == ""
