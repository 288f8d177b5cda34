"""The router decodes only the escalation records that may be resolves."""

from __future__ import annotations

import pytest

from escalation.schemas import codec
from escalation.services.router.skim import may_resolve


def test_only_a_resolve_or_what_cannot_be_told_is_decoded():
    assert may_resolve(codec.dumps({"type": "resolved", "escalation_id": "x"}))
    for kind in ("opened", "page.delivered", "paged", "acked"):
        assert not may_resolve(codec.dumps({"type": kind, "anything": None}))
    # Not a JSON object with a string type: decoded in full, so refused with its reason.
    for value in (None, b"", b"not json", b"[1, 2]", b'{"type": 3}', b"{}", b'"resolved"'):
        assert may_resolve(value)


def test_what_it_lets_through_that_is_not_a_valid_record_is_refused_by_the_decoder():
    for value in (b"not json", b"{}", b'{"type": "resolved"}'):
        assert may_resolve(value)
        with pytest.raises(codec.DecodeError):
            codec.decode_escalation(value)
