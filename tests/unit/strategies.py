"""Hypothesis strategies for contact events, written from the model's own constraints.

``contact_dicts`` draws every value ``ContactEvent`` accepts, edges included (the
longest ids in four-byte characters, offsets of almost a day, years 1 and 9999);
``json_values`` draws any JSON document, huge integers and non-finite floats too.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from escalation.schemas.contact import MAX_ATTRIBUTES, known_zones

ID_CHARACTERS = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
TEXT_CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
ZONES = sorted(known_zones())


def ids(max_size: int = 128) -> st.SearchStrategy[str]:
    return st.text(ID_CHARACTERS, min_size=1, max_size=max_size)


def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(TEXT_CHARACTERS, max_size=max_size)


_SEGMENT_START = "abcdefghijklmnopqrstuvwxyz0123456789"
segments = st.builds(
    str.__add__,
    st.sampled_from(_SEGMENT_START),
    st.text(_SEGMENT_START + "_-", max_size=15),
)
categories = st.lists(segments, min_size=1, max_size=4).map(".".join)
"""Dotted lowercase names, as the category pattern allows (built, not from the regex:
drawing from a regex costs ten times as much)."""

offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def moments(
    earliest: datetime = datetime(1970, 1, 2), latest: datetime = datetime(2999, 12, 30, 23, 59)
) -> st.SearchStrategy[datetime]:
    """Aware datetimes between two naive bounds, in any whole-minute UTC offset.

    Drawn as whole seconds, a microsecond part and an offset: three draws where
    ``st.datetimes`` takes one per field.
    """
    span = int((latest - earliest).total_seconds())
    return st.builds(
        lambda seconds, micros, zone: (
            earliest + timedelta(seconds=seconds, microseconds=micros)
        ).replace(tzinfo=zone),
        st.integers(0, span),
        st.just(0) | st.integers(0, 999_999),
        offsets,
    )


def zoned_moments() -> st.SearchStrategy[datetime]:
    """Aware datetimes in IANA zones, in the years a contact may report (schemas.base)."""
    return st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30), timezones=st.timezones()
    )


def contact_dicts(
    occurred: st.SearchStrategy[Any] | None = None, text_size: int = 4096
) -> st.SearchStrategy[dict]:
    """Plain dicts of valid contact events (``occurred_at`` as RFC 3339 text by default).

    ``text_size`` bounds summaries and attribute maps below their limits, for runs
    where drawing megabytes of text would cost more than the code under test.
    """
    required = {
        "event_id": ids(),
        "occurred_at": moments().map(datetime.isoformat) if occurred is None else occurred,
        "source": ids(64),
        "customer": st.fixed_dictionaries(
            {"id": ids()},
            optional={
                "tier": st.sampled_from(["standard", "priority", "vip"]),
                "timezone": st.sampled_from(ZONES) | st.none(),
            },
        ),
        "category": categories,
    }
    optional = {
        "channel": st.sampled_from(
            ["phone", "email", "chat", "web", "social", "in_person", "survey"]
        ),
        "issue_key": ids(),
        "product": ids(),
        "urgency": st.sampled_from(["low", "normal", "high", "critical"]),
        "sentiment": st.floats(-1.0, 1.0, allow_nan=False),
        "csat": st.integers(1, 5),
        "summary": texts(min(text_size, 4096)),
        "attributes": st.dictionaries(
            st.text(ID_CHARACTERS, min_size=1, max_size=128),
            texts(min(text_size, 1024)),
            max_size=min(text_size, MAX_ATTRIBUTES),
        ),
    }
    return st.fixed_dictionaries(required, optional=optional)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text()
    | st.sampled_from(["", "2026-11-24T09:15:00Z", "America", "e1", "0", "-1", "1e400"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


def json_bytes(value: Any) -> bytes:
    """JSON text as a sender might write it: NaN and Infinity included."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
