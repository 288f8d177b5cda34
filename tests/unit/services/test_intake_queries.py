"""The query API at intake: an escalations-scoped token, then the escalator's answer."""

import httpx
from tests.unit.services.intake_fakes import make, problem

from escalation.schemas import codec, make_escalation_id
from escalation.services.intake.auth import digest
from escalation.services.intake.queries import Queries

TOKENS = {
    "crm": digest("crm-token"),
    "ops": {"digest": digest("ops-token"), "scopes": ["escalations"]},
}
OPS = {"authorization": "Bearer ops-token"}
ESCALATION = make_escalation_id("C-7", "a" * 24, 1)


def intake_with(handler):
    intake, _ = make(intake_tokens=TOKENS, escalator_port=9182)
    asked: list[str] = []

    def escalator(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return handler(request)

    intake.queries = Queries(
        intake.auth, "http://127.0.0.1:9182", transport=httpx.MockTransport(escalator)
    )
    return intake, asked


async def test_the_escalators_answer_is_passed_back_as_it_is():
    answer = {"escalation_id": ESCALATION, "status": "open", "level": 2}
    intake, asked = intake_with(lambda r: httpx.Response(200, json=answer))
    path = f"/v1/escalations/{ESCALATION}"
    reply = await intake.get_escalations(path, "", OPS, ESCALATION)
    assert (reply.status, codec.loads_plain(reply.body)) == (200, answer)
    listed = await intake.get_escalations("/v1/escalations", "customer_id=C-7", OPS, None)
    assert listed.status == 200
    assert asked == [
        f"http://127.0.0.1:9182{path}",
        "http://127.0.0.1:9182/v1/escalations?customer_id=C-7",
    ]


async def test_reading_escalations_needs_the_escalations_scope():
    intake, asked = intake_with(lambda r: httpx.Response(200, json={}))
    path = f"/v1/escalations/{ESCALATION}"
    assert (await intake.get_escalations(path, "", {}, ESCALATION)).status == 401
    crm = {"authorization": "Bearer crm-token"}
    refused = await intake.get_escalations(path, "", crm, ESCALATION)
    assert refused.status == 403
    assert problem(refused)["type"].endswith("/insufficient-scope")
    assert asked == []


async def test_a_malformed_id_is_404_without_asking_the_escalator():
    intake, asked = intake_with(lambda r: httpx.Response(200, json={}))
    reply = await intake.get_escalations("/v1/escalations/e1.x", "", OPS, "e1.x")
    assert reply.status == 404
    assert problem(reply)["type"].endswith("/unknown-escalation")
    assert asked == []


async def test_the_escalators_404_and_503_reach_the_caller():
    def escalator(request):
        if "customer_id" in request.url.query.decode():
            return httpx.Response(503, headers={"retry-after": "1"}, json={"detail": "rebalancing"})
        return httpx.Response(404, json={"detail": "not known"})

    intake, _ = intake_with(escalator)
    absent = await intake.get_escalations(f"/v1/escalations/{ESCALATION}", "", OPS, ESCALATION)
    assert absent.status == 404
    busy = await intake.get_escalations("/v1/escalations", "customer_id=C-7", OPS, None)
    assert (busy.status, busy.headers) == (503, {"retry-after": "1"})


async def test_an_unreachable_escalator_is_503_with_retry_after():
    def down(request):
        raise httpx.ConnectError("connection refused")

    intake, _ = intake_with(down)
    reply = await intake.get_escalations(f"/v1/escalations/{ESCALATION}", "", OPS, ESCALATION)
    assert reply.status == 503
    assert reply.headers == {"retry-after": "5"}
    assert problem(reply)["type"].endswith("/escalator-unavailable")
