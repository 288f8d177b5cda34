"""A batch's staged view of the pager's table: read-through, per-input undo, writes in order."""

from __future__ import annotations

from types import SimpleNamespace

from escalation.services.pager.ledger import Ledger, key
from escalation.services.pager.staging import Staged, TableDelete


def event(partition: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(partition=partition))


def test_reads_fall_through_until_the_batch_changes_a_key():
    table = {b"a": b"1", b"b": b"2"}
    staged = Staged(table)
    staged.event = event(0)
    staged[b"a"] = b"10"
    del staged[b"b"]
    assert (staged.get(b"a"), staged.get(b"b"), staged.get(b"c", b"none")) == (
        b"10",
        None,
        b"none",
    )
    assert table == {b"a": b"1", b"b": b"2"}, "nothing reaches the table before the write"


def test_an_input_that_failed_leaves_nothing_of_its_own_behind():
    staged = Staged({b"a": b"1"})
    staged.event = event(0)
    staged.begin()
    staged[b"a"] = b"first"
    staged.begin()
    staged[b"a"] = b"second"
    staged[b"new"] = b"x"
    staged.rollback()
    assert staged.get(b"a") == b"first" and staged.get(b"new") is None


def test_writes_keep_each_change_with_its_input_and_delete_as_a_tombstone():
    staged = Staged({})
    first, second = event(0), event(1)
    staged.event = first
    staged[b"a"] = b"1"
    staged.event = second
    del staged[b"b"]
    staged[b"a"] = b"2"
    writes = staged.writes()
    assert [(type(w).__name__, w.key, w.event) for w in writes] == [
        ("TableWrite", b"a", second),
        ("TableDelete", b"b", second),
    ]
    assert writes[0].value == b"2" and isinstance(writes[1], TableDelete)


def test_a_ledger_over_the_staged_view_shares_its_expiry_index():
    table: dict[bytes, bytes] = {}
    ledger = Ledger(table, horizon=10, sweep_every=0)
    staged = Staged(table)
    staged.event = event(0)
    view = ledger.over(staged)
    view.deliver(key("msg_1", "ops"), partition=0, now=0)
    assert table == {} and view.get(key("msg_1", "ops")).state == "delivered"
    assert [ident for _, ident in ledger.expiring[0]] == [key("msg_1", "ops")]
    assert view.sweep(0, now=100) == 1
    assert staged.get(key("msg_1", "ops")) is None
