"""The timeline and the query API, on states made by the pure decisions."""

import asyncio

import httpx
import pytest
from tests.unit.escalator_world import FakeRoster
from tests.unit.factories import T0, hours, minutes
from tests.unit.services.test_escalator_ladder import opened

from escalation.schemas import codec, issue_state_key
from escalation.schemas.timeline import TIMELINE_LIMIT
from escalation.services.common.http import Request
from escalation.services.common.problems import Problem
from escalation.services.escalator.query import FORWARDED, Query
from escalation.services.escalator.timeline import appended


def history():
    """An escalation that climbed two levels, was acked with an eta, and missed it."""
    issue = opened(roster=FakeRoster())
    issue.run_until(T0 + minutes(61))
    issue.command("ack", by="chen", note="x" * 1000, eta=T0 + hours(2))
    issue.run_until(T0 + hours(2) + minutes(1))
    return issue


def timeline_of(issue):
    timeline = None
    for decision in issue.decisions:
        timeline = appended(timeline, decision.escalations, decision.pages) or timeline
    return timeline


def test_the_timeline_holds_every_record_once_with_its_reason_and_page():
    issue = history()
    timeline = timeline_of(issue)
    types = [(e.type, e.level) for e in timeline.entries]
    assert types == [
        ("opened", 1),
        ("paged", 1),
        ("stepped", 2),
        ("paged", 2),
        ("stepped", 3),
        ("paged", 3),
        ("acked", 3),
        ("stepped", 4),
        ("paged", 4),
    ]
    triggers = [p.page_id for p in issue.pages if p.action == "trigger"]
    assert [e.page_id for e in timeline.entries if e.type == "paged"] == triggers
    acked = timeline.entries[6]
    assert acked.by == "chen" and acked.eta == T0 + hours(2) and len(acked.note) == 280
    assert timeline.entries[7].reason.startswith("eta.missed: ")
    for decision in issue.decisions:  # reprocessing after a crash adds nothing
        assert appended(timeline, decision.escalations, decision.pages) is None


def test_the_timeline_is_bounded_and_a_new_escalation_starts_a_new_one():
    issue = history()
    timeline = timeline_of(issue)
    record = issue.decisions[-1].escalations[0]
    many = [record.model_copy(update={"cause_id": f"c{n}"}) for n in range(TIMELINE_LIMIT)]
    full = appended(timeline, many, [])
    assert len(full.entries) == TIMELINE_LIMIT
    assert full.dropped == len(timeline.entries)
    assert full.entries[-1].id == f"stepped:c{TIMELINE_LIMIT - 1}"
    later = record.model_copy(update={"escalation_id": record.escalation_id[:-1] + "2"})
    fresh = appended(full, [later], [])
    assert fresh.escalation_id == later.escalation_id and len(fresh.entries) == 1


class Reader:
    def __init__(self, issue, timeline=None, holder=None, unsettled=None):
        self.key = issue_state_key(issue.state.customer_id, issue.state.issue_id)
        self.states = {self.key: issue.state}
        self.timelines = {self.key: timeline} if timeline else {}
        self.holder = holder
        self.why = unsettled

    def unsettled(self):
        return self.why

    def holder_of(self, customer_id):
        return self.holder

    def state(self, key):
        return self.states.get(key)

    def timeline(self, key):
        return self.timelines.get(key)

    def issue_keys(self, customer_id):
        return [k for k in self.states if k.startswith(f"{customer_id}/".encode())]


def get(query, path, raw="", headers=None):
    if path == "/v1/escalations":
        handler, params = query.by_customer, {}
    else:
        handler, params = query.one, {"escalation_id": path.rsplit("/", 1)[1]}
    request = Request("GET", path, headers or {}, b"", params, raw)
    return asyncio.run(handler(request))


def test_one_escalation_with_status_deadlines_and_timeline():
    issue = history()
    query = Query(Reader(issue, timeline_of(issue)))
    answer = get(query, f"/v1/escalations/{issue.state.escalation_id}")
    assert answer.status == 200
    view = codec.loads_plain(answer.body)
    assert (view["status"], view["level"], view["owner"]) == ("open", 4, issue.state.owner)
    assert view["deadlines"]["next_step"] is not None and view["deadlines"].get("eta") is None
    assert [e["type"] for e in view["timeline"]][-2:] == ["stepped", "paged"]
    assert view["timeline_dropped"] == 0


def test_an_acked_escalation_shows_its_commitment():
    issue = opened(roster=FakeRoster())
    issue.command("ack", by="chen", eta=T0 + hours(3))
    view = codec.loads_plain(
        get(Query(Reader(issue)), f"/v1/escalations/{issue.state.escalation_id}").body
    )
    assert view["status"] == "acked"
    assert view["deadlines"] == {"eta": "2026-11-24T17:00:00Z"}
    assert view["timeline"] == []  # no timeline recorded for it


def test_a_well_formed_id_the_issue_never_had_is_404_saying_why():
    issue = opened(roster=FakeRoster())
    never = issue.state.escalation_id[:-1] + "9"
    with pytest.raises(Problem) as raised:
        get(Query(Reader(issue)), f"/v1/escalations/{never}")
    assert raised.value.status == 404
    assert raised.value.detail == (
        f"escalation {never} is not known: the issue's latest escalation is "
        f"{issue.state.escalation_id}"
    )


def test_malformed_ids_and_unknown_issues_are_404():
    issue = opened(roster=FakeRoster())
    query = Query(Reader(issue))
    with pytest.raises(Problem) as malformed:
        get(query, "/v1/escalations/e1.nope")
    assert (malformed.value.status, malformed.value.slug) == (404, "unknown-escalation")
    other = issue.state.escalation_id.replace(issue.state.issue_id, "f" * 24)
    with pytest.raises(Problem) as absent:
        get(query, f"/v1/escalations/{other}")
    assert "its issue has no escalation" in absent.value.detail


def test_a_superseded_escalation_names_the_current_one():
    issue = opened(roster=FakeRoster())
    state = issue.state
    issue.state = state.model_copy(
        update={"escalation_seq": 2, "escalation_id": state.escalation_id[:-1] + "2"}
    )
    with pytest.raises(Problem) as raised:
        get(Query(Reader(issue)), f"/v1/escalations/{state.escalation_id}")
    assert raised.value.status == 404
    assert f"superseded: the issue's current escalation is {issue.state.escalation_id}" in (
        raised.value.detail
    )


def test_a_customers_escalations_and_the_customer_id_required():
    issue = opened(roster=FakeRoster())
    query = Query(Reader(issue))
    listed = codec.loads_plain(
        get(query, "/v1/escalations", f"customer_id={issue.state.customer_id}").body
    )
    assert [e["escalation_id"] for e in listed["escalations"]] == [issue.state.escalation_id]
    assert "timeline" not in listed["escalations"][0]
    none = codec.loads_plain(get(query, "/v1/escalations", "customer_id=nobody").body)
    assert none == {"customer_id": "nobody", "escalations": []}
    with pytest.raises(Problem) as missing:
        get(query, "/v1/escalations", "")
    assert missing.value.status == 422


def test_a_worker_that_does_not_hold_the_customer_forwards_once():
    issue = opened(roster=FakeRoster())
    seen = []

    def holder(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get(FORWARDED)))
        return httpx.Response(200, json={"from": "holder"})

    transport = httpx.MockTransport(holder)
    query = Query(Reader(issue, holder="http://10.0.0.2:8082"), transport=transport)
    path = f"/v1/escalations/{issue.state.escalation_id}"
    assert codec.loads_plain(get(query, path).body) == {"from": "holder"}
    assert seen == [(f"http://10.0.0.2:8082{path}", "1")]
    with pytest.raises(Problem) as again:  # a forwarded request is never forwarded on
        get(query, path, headers={FORWARDED: "1"})
    assert again.value.status == 503


def test_a_worker_rebalancing_answers_503_with_retry_after():
    issue = opened(roster=FakeRoster())
    with pytest.raises(Problem) as raised:
        get(
            Query(Reader(issue, unsettled="rebalancing")),
            f"/v1/escalations/{issue.state.escalation_id}",
        )
    assert raised.value.status == 503 and raised.value.headers == {"retry-after": "1"}
