"""The schema of every topic a faust service reads: bytes in, bytes out, decoded by us.

Topics are read with the ``raw`` codec for keys and values (``stream.py``), so faust's
own decoding of a message is an identity: yet ``faust.Schema`` runs it through its
serializer registry for the key and the value (a codec lookup and a type check each)
and builds the event through the app's settings object, on every message the worker
reads (about a tenth of faust's own cost per message, measured on the escalator).
``RawSchema.compile`` makes the same event directly: the message's key, value and
headers, unchanged. Sending keeps ``faust.Schema``'s path (``raw`` codecs).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import AppT, Message


class RawSchema(faust.Schema):
    """``faust.Schema(key_type=bytes, value_type=bytes, raw serializers, allow_empty)``
    with a decoder that skips the registry (a raw codec returns its input as it is)."""

    def __init__(self) -> None:
        super().__init__(
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            allow_empty=True,
        )

    def compile(self, app: AppT, **_: Any) -> Any:
        """A decoder that cannot fail: no key or value is ever transformed."""
        event = app.conf.Event  # the settings object is slow to ask once per message

        async def decode(message: Message, *, propagate: bool = False) -> Any:
            return event(app, message.key, message.value, message.headers, message)

        return decode
