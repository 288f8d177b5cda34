"""A raw topic's events are the ones faust's own schema makes, without its registry."""

from __future__ import annotations

import faust
from faust.transport.consumer import ConsumerMessage

from escalation.services.common.raw_schema import RawSchema


def _message(key: bytes | None, value: bytes | None) -> ConsumerMessage:
    headers = [("event-id", b"e-1")]
    return ConsumerMessage("contacts.routed.v1", 3, 17, 0.0, 0, headers, key, value, None)


async def test_a_raw_topic_decodes_each_message_as_faust_s_raw_schema_does():
    app = faust.App("raw-schema-test", broker="memory://", web_enabled=False)
    ours = app.topic("contacts.routed.v1", schema=RawSchema())
    theirs = app.topic(
        "contacts.routed.v1",
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,
    )
    assert ours.schema.key_serializer == theirs.schema.key_serializer == "raw"
    assert ours.schema.value_serializer == theirs.schema.value_serializer == "raw"
    for key, value in [(b"C-1", b'{"a": 1}'), (None, b"x"), (b"C-2", None), (None, None)]:
        message = _message(key, value)
        mine = await ours.decode(message, propagate=True)
        stock = await theirs.decode(message, propagate=True)
        assert type(mine) is type(stock)
        assert (mine.key, mine.value, mine.headers) == (stock.key, stock.value, stock.headers)
        assert mine.message is stock.message is message and mine.app is stock.app
