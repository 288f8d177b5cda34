"""The books: a lane's outcome becomes its records first and the table's change after them."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from escalation.schemas import EscalationEvent, PageRequest, codec
from escalation.services.common.metrics import ServiceMetrics
from escalation.services.pager.batch import Batches
from escalation.services.pager.bookkeeping import Bookkeeper
from escalation.services.pager.lanes import Job
from escalation.services.pager.ledger import PAGED, Ledger, Record, decode, key
from escalation.services.pager.metrics import PagerMetrics
from escalation.services.pager.outcomes import Publisher, outcome
from escalation.services.pager.reporter import Reporter


class Topic:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name


def page(action: str = "trigger", targets: list[str] | None = None) -> PageRequest:
    return PageRequest(
        page_id="msg_1",
        action=action,
        escalation_id="e1.C-1.i1.1",
        dedup_key="e1.C-1.i1.1",
        level=1,
        reason="critical contact",
        customer_id="C-1",
        customer_tier="standard",
        category="hvac.repair",
        owner="chen",
        team="service-engineers",
        summary="stopped cooling",
        contacts=["crm-1"],
        targets=targets or ["ops"],
        created_at=datetime.now(UTC),
    )


def pager(table: dict[bytes, bytes], usable: set[str]) -> SimpleNamespace:
    metrics = ServiceMetrics("pager")
    fake = SimpleNamespace(
        table=table,
        ledger=Ledger(table, horizon=60),
        publisher=Publisher(Topic("escalations.v1"), Topic("pages.dlq.v1"), metrics),
        pager_metrics=PagerMetrics(metrics.registry),
        targets=SimpleNamespace(
            get=lambda: ({name: SimpleNamespace(fallback=None) for name in usable}, [])
        ),
        settled=set(),
        owned=lambda: {1},
    )
    fake.books = Bookkeeper(fake)  # type: ignore[arg-type]
    fake.batches = Batches(fake, writer=None)  # type: ignore[arg-type]
    return fake


def pending(request: PageRequest) -> Record:
    return Record("pending", 1.0, 1, codec.encode(request), {"event-id": "msg_1"}, 7)


def test_a_delivery_is_recorded_then_marked_delivered_and_announced_once():
    request = page()
    table: dict[bytes, bytes] = {}
    fake = pager(table, {"ops"})
    Ledger(table, 60).pend(key("msg_1", "ops"), pending(request))
    job = Job(request, "ops", 1, 1.0)
    said = outcome("page.delivered", request, "ops took the page", target="ops")
    plan = Reporter(fake)._book([(job, said), (job, said)])  # type: ignore[arg-type]
    kinds = [(o.headers or [])[1][1] for o in plan.outputs if o.topic == "escalations.v1"]
    assert kinds == [b"page.delivered", b"paged", b"page.delivered"]  # booked twice: once
    changes = {k: v for k, (_, v) in plan.staged.changes.items()}
    assert decode(changes[key("msg_1", "ops")] or b"").state == "delivered"
    assert key("msg_1", PAGED) not in changes, "the delivered record itself says so"
    assert [w.event.message.partition for w in plan.staged.writes()] == [1]
    assert plan.settle == [job.key, job.key]
    assert decode(table[key("msg_1", "ops")]).state == "pending", "stored only once written"


def test_a_failure_is_dead_lettered_and_its_fallback_pending_and_offered():
    request = page()
    table: dict[bytes, bytes] = {}
    fake = pager(table, {"ops", "backup"})
    Ledger(table, 60).pend(key("msg_1", "ops"), pending(request))
    job = Job(request, "ops", 1, 1.0)
    said = outcome("page.failed", request, "no", target="ops", error="HTTP 500", fallback="backup")
    plan = Reporter(fake)._book([(job, said)])  # type: ignore[arg-type]
    assert [o.topic for o in plan.outputs] == ["escalations.v1", "pages.dlq.v1"]
    assert plan.outputs[1].value == codec.encode(request)
    changes = {k: v for k, (_, v) in plan.staged.changes.items()}
    assert changes[key("msg_1", "ops")] is None, "the failed target's record is dropped"
    fallback = decode(changes[key("msg_1", "backup")] or b"")
    assert (fallback.state, fallback.fallback_for) == ("pending", "ops")
    assert [offer.job.target for offer in plan.offers] == ["backup"]


def test_an_outcome_of_a_partition_lost_meanwhile_leaves_the_table_to_its_new_owner():
    request = page()
    table: dict[bytes, bytes] = {}
    fake = pager(table, {"ops"})
    job = Job(request, "ops", 2, 1.0)  # partition 2: not held any more
    said = outcome("page.delivered", request, "ops took the page", target="ops")
    plan = Reporter(fake)._book([(job, said)])  # type: ignore[arg-type]
    assert len(plan.outputs) == 1 and plan.staged.changes == {}


def test_outcome_records_built_unvalidated_are_what_the_model_would_build():
    request = page().model_copy(update={"notified": ["chen"], "issue_key": "T-1"})
    made = [
        outcome("paged", request, request.reason, target="ops"),
        outcome("page.delivered", request, "ops took it", target="ops", attempts=1),
        outcome("page.failed", request, "no", target="ops", error="x" * 5000, fallback="b"),
    ]
    for record in made:
        checked = EscalationEvent.model_validate(record.model_dump())
        assert codec.encode(record) == codec.encode(checked)
        assert codec.decode_escalation(codec.encode(record)) == checked


def test_a_second_target_of_a_page_already_announced_does_not_announce_it_again():
    request = page(targets=["ops", "backup"])
    table: dict[bytes, bytes] = {}
    fake = pager(table, {"ops", "backup"})
    Ledger(table, 60).pend(key("msg_1", "backup"), pending(request))
    Ledger(table, 60).deliver(key("msg_1", "ops"), 1)  # delivered (and announced) before
    job = Job(request, "backup", 1, 1.0)
    said = outcome("page.delivered", request, "backup took the page", target="backup")
    plan = Reporter(fake)._book([(job, said)])  # type: ignore[arg-type]
    kinds = [(o.headers or [])[1][1] for o in plan.outputs]
    assert kinds == [b"page.delivered"]


def test_a_page_announced_under_the_older_marker_record_is_not_announced_again():
    request = page()
    table: dict[bytes, bytes] = {}
    fake = pager(table, {"ops"})
    Ledger(table, 60).pend(key("msg_1", "ops"), pending(request))
    Ledger(table, 60).deliver(key("msg_1", PAGED), 1)
    job = Job(request, "ops", 1, 1.0)
    said = outcome("page.delivered", request, "ops took the page", target="ops")
    plan = Reporter(fake)._book([(job, said)])  # type: ignore[arg-type]
    assert [(o.headers or [])[1][1] for o in plan.outputs] == [b"page.delivered"]
