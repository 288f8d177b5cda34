"""The pager's records: pending, delivered, expired after the horizon, resumed on recovery."""

from __future__ import annotations

from escalation.services.pager.ledger import Ledger, Record, decode, key

DAY = 86400.0


def test_delivered_records_expire_after_the_horizon_partition_by_partition():
    table: dict[bytes, bytes] = {}
    ledger = Ledger(table, horizon=7 * DAY, sweep_every=60)
    ledger.deliver(key("msg_old", "ops"), partition=0, now=0)
    ledger.deliver(key("msg_other", "ops"), partition=1, now=0)
    ledger.deliver(key("msg_new", "ops"), partition=0, now=6 * DAY)
    assert ledger.sweep(0, now=7 * DAY + 1) == 1
    assert sorted(table) == [key("msg_new", "ops"), key("msg_other", "ops")]
    assert ledger.sweep(0, now=7 * DAY + 30) == 0, "at most one sweep a minute"
    assert ledger.sweep(1, now=7 * DAY + 30) == 1


def test_a_record_rewritten_since_is_not_expired_by_its_old_entry():
    table: dict[bytes, bytes] = {}
    ledger = Ledger(table, horizon=DAY, sweep_every=0)
    ident = key("msg_1", "ops")
    ledger.deliver(ident, partition=0, now=0)
    ledger.pend(ident, Record("pending", 10, 0, b"{}", {}, 5))
    assert ledger.sweep(0, now=2 * DAY) == 0
    assert ledger.get(ident).state == "pending"


def test_recovery_resumes_pending_records_of_assigned_partitions_only():
    table: dict[bytes, bytes] = {}
    ledger = Ledger(table, horizon=DAY)
    ledger.pend(key("msg_a", "ops"), Record("pending", 5, 0, b'{"x": 1}', {"event-id": "a"}, 3))
    ledger.pend(key("msg_b", "ops"), Record("pending", 5, 1, b"{}", {}, 4))
    ledger.deliver(key("msg_c", "ops"), partition=0, now=1)
    table[key("msg_legacy", "ops")] = b"1732000000"  # written before records expired
    resumed = ledger.recovered({0})
    assert [(ident, record.page, record.headers, record.offset) for ident, record in resumed] == [
        (key("msg_a", "ops"), b'{"x": 1}', {"event-id": "a"}, 3)
    ]
    assert [ident for _, ident in ledger.expiring[0]] == [key("msg_c", "ops")]
    assert decode(b"1732000000") == Record("delivered", 1732000000.0, None)
