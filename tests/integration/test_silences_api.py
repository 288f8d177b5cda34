"""The silences API on a real broker: records on ``escalation.controls.v1``, problems for
bad input, and a list that a restarted intake reads back from the topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from escalation.schemas import codec
from escalation.schemas.silence import SilenceRecord
from escalation.services.common.broker import free_port
from escalation.services.common.topics import CONTROLS
from escalation.testing.stack import Service, eventually
from tests.integration.conftest import TOKENS, token_setting

pytestmark = pytest.mark.integration

OPS = {"authorization": f"Bearer {TOKENS['ops']}", "content-type": "application/json"}
CRM = {"authorization": f"Bearer {TOKENS['crm']}", "content-type": "application/json"}


def intake(bootstrap: str, tmp_path) -> Service:
    port = free_port()
    env = {
        "ESCALATION_KAFKA_BOOTSTRAP": bootstrap,
        "ESCALATION_KAFKA_PARTITIONS": "2",
        "ESCALATION_INTAKE_PORT": str(port),
        "ESCALATION_INTAKE_TOKENS": token_setting(),
        "ESCALATION_LOG_FORMAT": "json",
    }
    return Service("intake", env, port, tmp_path / f"intake-{port}.log")


def call(service: Service, method: str, path: str, body=None, headers=OPS) -> httpx.Response:
    content = body if isinstance(body, bytes) else None if body is None else codec.dumps(body)
    return httpx.request(
        method,
        f"http://127.0.0.1:{service.port}{path}",
        content=content,
        headers=headers,
        timeout=30,
    )


def later(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def controls(bootstrap: str, count: int) -> list[tuple[bytes, int, SilenceRecord]]:
    consumer = AIOKafkaConsumer(
        CONTROLS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[bytes, int, SilenceRecord]] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for m in records:
                        found.append((m.key, m.partition, codec.decode_silence_record(m.value)))
    finally:
        await consumer.stop()
    return found


def test_silences_are_created_listed_and_expired_through_the_topic(broker, tmp_path) -> None:
    service = intake(broker.bootstrap, tmp_path).start()
    try:
        body = {
            "matchers": [
                'product="AC-3000"',
                {"name": "customer.tier", "op": "!=", "value": "vip"},
            ],
            "ends_at": later(2),
            "mode": "wait",
            "comment": "compressor recall under way",
        }
        assert call(service, "POST", "/v1/silences", body, headers={}).status_code == 401
        assert call(service, "POST", "/v1/silences", body, headers=CRM).status_code == 403
        made = call(service, "POST", "/v1/silences", body)
        assert made.status_code == 201, made.text
        silence = made.json()
        assert silence["id"].startswith("sil_")
        assert made.headers["location"] == f"/v1/silences/{silence['id']}"
        assert silence["created_by"] == "token:ops"
        assert silence["matchers"][1] == {"name": "customer.tier", "op": "!=", "value": "vip"}
        other = call(service, "POST", "/v1/silences", {**body, "mode": "drop"}).json()

        listed = eventually(
            lambda: call(service, "GET", "/v1/silences").json().get("silences"),
            "intake to have read the silences",
        )
        assert {s["id"] for s in listed} == {silence["id"], other["id"]}

        gone = call(service, "DELETE", f"/v1/silences/{silence['id']}")
        assert gone.status_code == 200, gone.text
        assert gone.json()["expired"] is True and gone.json()["expired_by"] == "token:ops"
        listed = call(service, "GET", "/v1/silences").json()["silences"]
        assert [s["id"] for s in listed] == [other["id"]]
        everything = call(service, "GET", "/v1/silences?expired=true").json()["silences"]
        assert {s["id"] for s in everything} == {silence["id"], other["id"]}
        unknown = call(service, "DELETE", "/v1/silences/sil_nope")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"

        records = asyncio.run(controls(broker.bootstrap, 3))
        mine = [(key, part, r) for key, part, r in records if r.id == silence["id"]]
        assert [r.active for _, _, r in mine] == [True, False]
        assert {key for key, _, _ in mine} == {silence["id"].encode()}
        assert len({part for _, part, _ in mine}) == 1  # one key, one partition: in order
        assert mine[1][2].silence.ends_at < datetime.fromisoformat(body["ends_at"])
    finally:
        service.stop()

    # A new intake knows only what the topic says.
    again = intake(broker.bootstrap, tmp_path).start()
    try:
        listed = eventually(
            lambda: call(again, "GET", "/v1/silences").json().get("silences"),
            "the restarted intake to list the silence still in force",
        )
        assert [s["id"] for s in listed] == [other["id"]]
        assert listed[0]["mode"] == "drop"
    finally:
        again.stop()


BAD = [
    (b"{not json", 400, None, "malformed JSON"),
    (
        {"matchers": ["colour=red"], "ends_at": "2099-01-01T00:00:00Z"},
        422,
        ["matchers", 0],
        "unknown field 'colour'",
    ),
    (
        {"matchers": ['category=~"hvac("'], "ends_at": "2099-01-01T00:00:00Z"},
        422,
        ["matchers", 0],
        "invalid regular expression",
    ),
    ({"matchers": [], "ends_at": "2099-01-01T00:00:00Z"}, 422, ["matchers"], "at least 1"),
    ({"matchers": ["product=x"]}, 422, ["ends_at"], "Field required"),
    (
        {"matchers": ["product=x"], "ends_at": "2020-01-01T00:00:00Z"},
        422,
        ["ends_at"],
        "in the past",
    ),
    (
        {"matchers": ["product=x"], "ends_at": "2099-01-01T00:00:00Z"},
        422,
        ["ends_at"],
        "at most 366 days",
    ),
    (
        {"matchers": ["product=x"], "ends_at": "2099-01-01T00:00:00Z", "mode": "mute"},
        422,
        ["mode"],
        "'wait' or 'drop'",
    ),
    (
        {
            "matchers": ["product=x"],
            "starts_at": "2099-01-02T00:00:00Z",
            "ends_at": "2099-01-01T00:00:00Z",
        },
        422,
        [],
        "ends_at must be after starts_at",
    ),
]


def test_bad_silences_are_problems_that_say_what_and_where(broker, tmp_path) -> None:
    service = intake(broker.bootstrap, tmp_path).start()
    try:
        for body, status, where, says in BAD:
            answer = call(service, "POST", "/v1/silences", body)
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            problem = answer.json()
            if where is None:
                assert says in problem["detail"]
                continue
            assert any(
                e["loc"][: len(where)] == where and says in e["msg"] for e in problem["errors"]
            ), problem
        listed = eventually(
            lambda: (
                call(service, "GET", "/v1/silences").json().get("silences") is not None
                and call(service, "GET", "/v1/silences").json()
            ),
            "intake to have read the silences",
        )
        assert listed["silences"] == []  # nothing bad was written
    finally:
        service.stop()
