import json
from pathlib import Path

from escalation.cli.main import main
from escalation.schemas import make_escalation_id
from escalation.schemas.identity import issue_digest
from tests.unit.factories import contact_data
from tests.unit.policy.fixtures import POLICY

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "config" / "policy.example.yaml"
DEMO = ROOT / "config" / "demo.jsonl"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["policy", "replay", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_history_replays_to_two_escalations_a_surge_and_the_vip_ladder(capsys):
    code, out, _ = run(capsys, EXAMPLE, DEMO, "--json")
    report = json.loads(out)
    assert code == 0
    assert report["events"] == 8  # the resent event counts once
    # Nobody acknowledges the VIP's page in the recorded history, so its ladder climbs:
    # the VIP desk at the 10m ack timeout, then the route's fallback owner.
    assert report["by"]["reason"] == {
        "ladder.ack_timeout": {"contacts": 0, "escalations": 2, "pages": 2},
        "repeat.contacts": {"contacts": 0, "escalations": 1, "pages": 1},
        "surge.opened": {"contacts": 0, "escalations": 1, "pages": 1},
        "urgency.critical": {"contacts": 0, "escalations": 1, "pages": 1},
    }
    # Four customers report the same water heater: one surge for product quality.
    (surge,) = report["surges"]
    assert (surge["rule"], surge["value"], surge["customers"]) == ("water-heaters", "WH-50", 4)
    assert surge["named"] == ["C-3101", "C-3102", "C-3103", "C-3104"]
    assert report["by"]["level"] == {
        "1": {"contacts": 0, "escalations": 3, "pages": 3},
        "2": {"contacts": 0, "escalations": 1, "pages": 1},
        "3": {"contacts": 0, "escalations": 1, "pages": 1},
    }
    assert report["by"]["route"]["vip"] == {"contacts": 1, "escalations": 1, "pages": 1}
    assert report["by"]["route"]["equipment-repair"]["contacts"] == 7
    assert report["commands"] == {}


def test_recorded_commands_replay_through_the_same_decisions(tmp_path, capsys):
    vip = make_escalation_id("C-2001", issue_digest("C-2001", "key:ticket-412"), 1)
    ack = {
        "command_id": "cmd-1",
        "action": "ack",
        "escalation_id": vip,
        "customer_id": "C-2001",
        "at": "2026-11-25T02:05:00+00:00",
        "by": "elif",
    }
    absent = {**ack, "command_id": "cmd-2", "escalation_id": vip[:-1] + "9"}
    history = tmp_path / "history.jsonl"
    lines = DEMO.read_text().splitlines()
    vip_line = next(i for i, line in enumerate(lines) if "demo-vip-1" in line)
    lines.insert(vip_line + 1, json.dumps(ack))
    lines.append(json.dumps(absent))
    history.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, EXAMPLE, history, "--json")
    report = json.loads(out)
    assert code == 0 and err == ""
    assert report["commands"] == {"ack": {"acked": 1, "unknown": 1}}
    # Acknowledged five minutes in, the VIP's ladder never climbs.
    assert "ladder.ack_timeout" not in report["by"]["reason"]


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path, capsys):
    history = tmp_path / "history.jsonl"
    good = json.dumps(contact_data())
    history.write_text(
        f"{good}\n{{not json\n# a comment\n"
        f"{json.dumps(contact_data(event_id='b', urgency='meh'))}\n"
    )
    code, out, err = run(capsys, EXAMPLE, history)
    assert code == 0
    assert f"{history}:2: malformed JSON" in err
    assert f"{history}:4: 1 schema violation(s); first at urgency" in err
    assert "1 events replayed" in out.replace(",", "") and "2 bad line(s) skipped" in out


def test_decisions_use_each_event_s_recorded_time(tmp_path, capsys):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    history = tmp_path / "history.jsonl"
    evening = contact_data(
        event_id="late", category="billing.refund", occurred_at="2026-11-25T21:00:00-05:00"
    )
    morning = contact_data(
        event_id="early",
        category="billing.refund",
        customer={"id": "C-2"},
        occurred_at="2026-11-25T10:00:00-05:00",
    )
    history.write_text(json.dumps(evening) + "\n" + json.dumps(morning) + "\n")
    _, out, _ = run(capsys, policy, history, "--json")
    routes = json.loads(out)["by"]["route"]
    assert routes["after-hours"]["contacts"] == 1
    assert routes["default"]["contacts"] == 1


def test_against_an_older_policy_lists_the_events_decided_differently(tmp_path, capsys):
    old = tmp_path / "old.yaml"
    old.write_text(
        EXAMPLE.read_text().replace(
            "match: {customer.tier: [vip]}", "match: {customer.tier: [priority]}"
        )
    )
    code, out, _ = run(capsys, EXAMPLE, DEMO, "--against", old, "--json")
    report = json.loads(out)
    assert code == 0
    changes = {c["event_id"]: c for c in report["changes"]}
    # The VIP moves to the VIP desk; the priority customer leaves it under the new policy.
    assert changes["demo-vip-1"]["route"] == ["equipment-repair", "vip"]
    assert changes["demo-vip-1"]["owner"][1] in {"elif", "grace"}
    assert changes["demo-wh-4"]["route"] == ["vip", "equipment-repair"]
    # Every other difference is an owner chosen differently because loads differ.
    for event_id, change in changes.items():
        if event_id not in {"demo-vip-1", "demo-wh-4"}:
            assert change["route"][0] == change["route"][1]
    assert report["against"]["by"]["route"]["vip"]["contacts"] == 1


def test_text_report_shows_the_difference(tmp_path, capsys):
    old = tmp_path / "old.yaml"
    old.write_text(EXAMPLE.read_text().replace("repeat_threshold: 3", "repeat_threshold: 4"))
    _, out, _ = run(capsys, EXAMPLE, DEMO, "--against", old)
    assert "1 event(s) decided differently" in out
    assert "line 4 demo-ac-3" in out
    assert "escalations [] -> ['repeat.contacts: 3 contacts within 72h']" in out


def test_a_broken_policy_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\n")
    code, _, err = run(capsys, bad, DEMO)
    assert code == 1
    assert "owners: Field required" in err


def test_explain_shows_the_route_s_ladder(tmp_path, capsys):
    event = tmp_path / "event.json"
    event.write_text(json.dumps(contact_data(customer={"id": "C-9", "tier": "vip"})))
    code = main(["policy", "explain", str(EXAMPLE), str(event), "--at", "2026-11-25T10:00:00Z"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ladder: 15m team; 30m fallback_owner grace; ack timeout 10m" in out
