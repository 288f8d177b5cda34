"""`policy replay` reports surges with the live service's decisions, inhibition included."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from escalation.cli.main import main
from tests.unit.factories import T0, contact_data

POLICY = Path(__file__).parents[1] / "integration" / "surge_policy.yaml"


def line(n: int, customer: str, minutes: float, **fields) -> str:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    event = contact_data(
        event_id=f"ev-{n}",
        occurred_at=at,
        customer={"id": customer},
        issue_key=None,
        category="appliances.leak",
        product="WH-50",
        **fields,
    )
    return json.dumps(event)


def test_replay_reports_the_surge_and_the_pages_it_held(tmp_path, capsys):
    lines = [line(n, f"C-{n}", n / 10) for n in range(10)]  # ten customers in a minute
    lines += [line(20, "C-20", 1.5, urgency="critical")]  # held: critical is not exempt
    lines += [line(21 + n, "C-21", 1.6 + n / 10) for n in range(3)]  # held: a repeat
    lines += [line(30, "C-30", 30)]  # after the 10m quiet time: the surge has closed
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    assert main(["policy", "replay", str(POLICY), str(history), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (surge,) = report["surges"]
    assert surge["customers"] == 12 and surge["held_pages"] == 2
    # Ten minutes after the last new customer (C-21 first reported at 1.6 minutes).
    assert surge["closed_at"] == (T0 + timedelta(minutes=1.6 + 10)).isoformat()
    reasons = report["by"]["reason"]
    assert reasons["surge.opened"]["pages"] == 1
    # Released at the close, each held issue pages its owner once, with the held level.
    assert reasons["surge.released"]["pages"] == 2
    # Their own escalations opened, and their pages waited for the close.
    held = {"contacts": 0, "escalations": 1, "pages": 0}
    assert reasons["urgency.critical"] == reasons["repeat.contacts"] == held
