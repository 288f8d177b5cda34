"""PII kept out of the logs: a structlog processor that masks named fields, on by default.

A contact's ``summary`` is the customer's own words and may carry anything (names, phone
numbers, what broke in their home); upstream ``attributes`` often carry e-mail addresses
or account numbers. Logs travel further than the event log (collectors, tickets, chat),
so the values of these fields never reach a log line: the key stays, so a reader sees
that there was one, and its value becomes ``[redacted]``. Nested mappings (an event's
``attributes``, a model dumped whole) are searched too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"
ALWAYS = frozenset({"summary"})
"""Redacted whatever the settings say: the free text of a contact."""


class Redactor:
    """``Redactor(["email"])`` masks ``summary`` and ``email`` wherever they appear."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = ALWAYS | {name.lower() for name in names}

    def __call__(self, logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return self._clean(event_dict)

    def _clean(self, mapping: Mapping[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        for key, value in mapping.items():
            if isinstance(key, str) and key.lower() in self.names and value is not None:
                cleaned[key] = REDACTED
            elif isinstance(value, Mapping):
                cleaned[key] = self._clean(value)
            elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
                cleaned[key] = [self._clean(v) if isinstance(v, Mapping) else v for v in value]
            else:
                cleaned[key] = value
        return cleaned
