"""`escalation send --shift-to-now`: a recorded story told today, as intake's window wants."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from escalation.cli.send import lines_of, shifted_to_now
from escalation.schemas import codec
from escalation.services.intake.admission import EventWindow

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.jsonl"


def line(**event) -> bytes:
    return codec.dumps(event)


def test_times_move_by_whole_weeks_keeping_spacing_offsets_and_weekdays():
    now = datetime(2028, 3, 10, 12, tzinfo=UTC)
    lines = [
        (1, line(event_id="a", occurred_at="2026-11-23T09:15:00-05:00")),
        (2, line(event_id="b", occurred_at="2026-11-24T10:02:00-05:00")),
        (3, b"not json"),
        (4, line(event_id="c", occurred_at="2026-11-24T10:02:00")),  # naive: intake refuses it
    ]
    shifted = shifted_to_now(lines, now)
    a, b = (datetime.fromisoformat(codec.loads_plain(v)["occurred_at"]) for _, v in shifted[:2])
    assert now - timedelta(weeks=1) < b <= now
    assert b - a == timedelta(hours=24, minutes=47)
    assert (a.weekday(), a.time(), a.utcoffset()) == (
        0,
        datetime(1, 1, 1, 9, 15).time(),
        timedelta(hours=-5),
    )
    assert shifted[2:] == lines[2:]
    assert [n for n, _ in shifted] == [1, 2, 3, 4]


def test_the_demo_shifted_to_any_day_is_inside_intakes_window():
    window = EventWindow(timedelta(days=365), timedelta(days=1))
    for now in (datetime(2026, 11, 25, tzinfo=UTC), datetime(2031, 7, 4, 3, tzinfo=UTC)):
        events = codec.decode_contacts(
            b"[" + b",".join(v for _, v in shifted_to_now(list(lines_of(DEMO)), now)) + b"]"
        )
        assert len(events) == 9
        assert window.errors(events, now, batch=True) == []
