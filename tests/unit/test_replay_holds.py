"""`policy replay` holds pages back as the escalator does: file silences, maintenance
windows and quiet hours, each page held until its wait ends, then released or dropped."""

from __future__ import annotations

import json

from escalation.cli.main import main
from escalation.schemas import make_escalation_id
from escalation.schemas.identity import issue_digest
from tests.unit.factories import T0, contact_data, hours, minutes

# T0 is Tuesday 09:00 in New York; Chen works 08:00-16:00 on weekdays there.
POLICY = f"""
version: 1
timezone: America/New_York
owners:
  - {{id: chen, name: Chen, teams: [eng], authority: 3,
     hours: [{{days: [mon, tue, wed, thu, fri], start: "08:00", end: "16:00"}}]}}
teams: [{{id: eng, name: Engineers}}]
routes: [{{name: default, team: eng}}]
escalation: {{repeat_threshold: 1}}
silences:
  - {{id: ac-noise, matchers: ['product="AC-3000"'], starts_at: "{(T0 - hours(1)).isoformat()}",
     ends_at: "{(T0 + hours(2)).isoformat()}"}}
  - {{id: dryer-recall, matchers: ['product="DR-7"'], ends_at: "2027-03-01T00:00:00Z",
     mode: drop}}
maintenance:
  - {{id: firmware, matchers: ['product="TS-10"'], days: [tue], start: "08:00", end: "12:00"}}
quiet_hours: {{below: high}}
"""


def line(customer: str, at, product: str, urgency: str = "critical") -> str:
    return json.dumps(
        contact_data(
            event_id=f"ev-{customer}",
            occurred_at=at.isoformat(),
            customer={"id": customer},
            issue_key=f"ticket-{customer}",
            product=product,
            urgency=urgency,
        )
    )


def ack(customer: str, at) -> str:
    escalation = make_escalation_id(customer, issue_digest(customer, f"key:ticket-{customer}"), 1)
    command = {
        "command_id": f"ack-{customer}",
        "action": "ack",
        "escalation_id": escalation,
        "customer_id": customer,
        "at": at.isoformat(),
        "by": "chen",
    }
    return json.dumps(command)


HISTORY = [
    line("C-1", T0, "AC-3000"),  # silenced until T0+2h, then released
    line("C-2", T0 + minutes(1), "DR-7"),  # dropped for good
    line("C-3", T0 + minutes(2), "TS-10"),  # maintenance until 12:00 New York (T0+3h)
    line("C-4", T0 + minutes(3), "PJ-900"),  # nothing holds it: paged at once
    line("C-7", T0 + minutes(5), "AC-3000"),  # silenced, then acknowledged while held
    ack("C-7", T0 + minutes(10)),
    line("C-5", T0 + hours(12), "MX-1", "normal"),  # 21:00: waits for Chen at 08:00
    line("C-6", T0 + hours(24), "MX-1", "normal"),  # 09:00 Wednesday: Chen works
]


def replay(
    tmp_path, capsys, *extra: str, lines: list[str] = HISTORY, policy_text: str = POLICY
) -> str:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    assert main(["policy", "replay", str(policy), str(history), *extra]) == 0
    return capsys.readouterr().out


def test_replay_holds_pages_as_the_escalator_does_and_counts_what_held_them(tmp_path, capsys):
    report = json.loads(replay(tmp_path, capsys, "--json"))
    assert report["holds"]["by"] == {
        "ac-noise": {"held": 2, "released": 1, "dropped": 0, "superseded": 1, "waiting": 0},
        "dryer-recall": {"held": 0, "released": 0, "dropped": 1, "superseded": 0, "waiting": 0},
        "maintenance.firmware": {
            "held": 1,
            "released": 1,
            "dropped": 0,
            "superseded": 0,
            "waiting": 0,
        },
        "quiet hours": {"held": 1, "released": 1, "dropped": 0, "superseded": 0, "waiting": 0},
    }
    reasons = report["by"]["reason"]
    # Every escalation is recorded; only the pages nothing held, or released, count.
    # Were holds not applied, all five critical escalations would page.
    assert reasons["urgency.critical"] == {"contacts": 0, "escalations": 5, "pages": 3}
    assert reasons["repeat.contacts"]["pages"] == 2


def test_each_held_page_says_until_when_and_how_its_wait_ended(tmp_path, capsys):
    report = json.loads(replay(tmp_path, capsys, "--json"))
    pages = {p["customer_id"]: p for p in report["holds"]["pages"]}
    assert pages["C-1"]["until"] == (T0 + hours(2)).isoformat()
    assert (pages["C-1"]["outcome"], pages["C-1"]["ended_at"]) == (
        "released",
        (T0 + hours(2)).isoformat(),
    )
    assert pages["C-2"]["outcome"] == "dropped" and pages["C-2"]["until"] is None
    assert pages["C-3"]["until"] == (T0 + hours(3)).isoformat()
    assert pages["C-7"]["outcome"] == "superseded"
    assert "acked" in pages["C-7"]["why"]
    # Quiet hours: held at 21:00 until Chen starts at 08:00 the next morning.
    assert pages["C-5"]["held_by"] == "quiet hours"
    assert pages["C-5"]["until"] == (T0 + hours(23)).isoformat()
    assert pages["C-5"]["outcome"] == "released"
    assert "C-4" not in pages and "C-6" not in pages


def test_a_page_still_held_when_the_history_ends_is_reported_waiting(tmp_path, capsys):
    before_morning = HISTORY[:-1]  # the history ends before Chen's morning
    report = json.loads(replay(tmp_path, capsys, "--json", lines=before_morning))
    assert report["holds"]["by"]["quiet hours"]["waiting"] == 1
    assert report["by"]["reason"]["repeat.contacts"]["pages"] == 0


def test_text_report_lists_held_pages_per_silence(tmp_path, capsys):
    out = replay(tmp_path, capsys)
    assert "held pages (silences, maintenance windows, quiet hours):" in out
    assert "maintenance.firmware" in out
    assert f"held by ac-noise from {T0.isoformat()} until {(T0 + hours(2)).isoformat()}" in out
    assert "; dropped at" in out and "; superseded at" in out


def test_against_an_older_policy_shows_its_holds_too(tmp_path, capsys):
    old = tmp_path / "old.yaml"
    old.write_text(POLICY.replace("quiet_hours: {below: high}", ""))
    out = replay(tmp_path, capsys, "--against", str(old), "--json")
    report = json.loads(out)
    assert "quiet hours" not in report["against"]["holds"]["by"]
    assert report["holds"]["by"]["quiet hours"]["held"] == 1


def test_a_silence_may_name_the_route_the_contact_took(tmp_path, capsys):
    on_route = POLICY.replace(
        """['product="AC-3000"']""", """['product="AC-3000"', 'route="default"']"""
    )
    report = json.loads(replay(tmp_path, capsys, "--json", policy_text=on_route))
    assert report["holds"]["by"]["ac-noise"]["held"] == 2
