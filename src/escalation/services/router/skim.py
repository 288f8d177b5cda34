"""Which records of ``escalations.v1`` the router needs to decode at all."""

from __future__ import annotations

import orjson


def may_resolve(value: bytes | None) -> bool:
    """Whether an ``escalations.v1`` record may be a resolve, the one type the router uses.

    Most records there are not (opened, page.delivered, paged: three per page): a full
    validation cost 31 us a record, parsing the JSON alone 10 (one record, loaded
    machine), so the router reads the type first. A record that is not
    a JSON object with a string ``type`` is decoded in full, so it is still refused with
    its reason and dead-lettered; one of another type is not the router's input and is
    passed over unvalidated.
    """
    try:
        data = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        return True
    kind = data.get("type") if isinstance(data, dict) else None
    return kind == "resolved" or not isinstance(kind, str)
