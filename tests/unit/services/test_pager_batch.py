"""A pager batch is decided input by input: a failing input leaves nothing of its own behind."""

from __future__ import annotations

from types import SimpleNamespace

from tests.unit.services.batch_fakes import FakeEvent

from escalation.services.common.batches import Outgoing
from escalation.services.pager.batch import Batches, Offer, Plan
from escalation.services.pager.lanes import Job
from escalation.services.pager.ledger import Ledger, Record, key


def pager(table: dict[bytes, bytes]) -> SimpleNamespace:
    dead: list[tuple[int, str]] = []

    def dead_letter_record(event, reason, error):
        dead.append((event.message.offset, reason))
        return Outgoing("pages.dlq.v1", event.message.partition, None, b"dead")

    return SimpleNamespace(
        table=table,
        ledger=Ledger(table, horizon=60),
        dead_letter_record=dead_letter_record,
        dead=dead,
    )


def test_a_failing_input_is_dead_lettered_and_its_changes_undone():
    table: dict[bytes, bytes] = {}
    fake = pager(table)
    batches = Batches(fake, writer=None)  # type: ignore[arg-type]

    def decide(event, plan: Plan) -> None:
        offset = event.message.offset
        ident = key(f"msg_{offset}", "ops")
        plan.ledger.pend(ident, Record("pending", 1.0, 1, b"{}", {}, offset))
        plan.outputs.append(Outgoing("escalations.v1", 1, None, f"out {offset}".encode()))
        job = Job(SimpleNamespace(page_id=f"msg_{offset}"), "ops", 1, 1.0)  # type: ignore[arg-type]
        plan.offers.append(Offer(job, "full", None))
        plan.take_up(ident)
        if offset == 2:
            raise ValueError("a bug on this input")

    plan = batches._decide([FakeEvent(b"{}", 1), FakeEvent(b"{}", 2), FakeEvent(b"{}", 3)], decide)
    assert [o.value for o in plan.outputs] == [b"out 1", b"dead", b"out 3"]
    assert fake.dead == [(2, "bug")]
    assert sorted(plan.staged.changes) == [key("msg_1", "ops"), key("msg_3", "ops")]
    assert len(plan.offers) == 2 and key("msg_2", "ops") not in plan.offered
    assert table == {}, "nothing is stored before the batch is written"
