"""Which routed contacts no surge rule can count, told from a few of their raw members.

The surge service reads every routed contact, and most are counted by no rule (a rule
names a product line, a category): deciding that from the plain JSON members it needs
costs a fraction of decoding the whole contact (1.5 KB with its routing and ladder), so
the service decodes, validates and matches only the contacts that pass this screen.

The screen is conservative: it rules a contact out for a rule only on a condition that
fails on the very value the model would decode (strings are kept as written: no
stripping, no coercion to ``str``), and leaves every other condition, and any member of
an unexpected type, to the full match (``SurgeRules.matches``). So a contact the screen
rules out is one the full match counts under no rule, whenever it decodes at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .model import SurgeRule

Fields = Mapping[str, Any]
Check = Callable[[Fields], bool]
"""False only when the condition surely fails for the decoded contact."""

SCREENED_REGEX = ("category", "product")
"""Regex conditions checked here: top-level strings with no default (an absent product
is None, which no expression matches)."""


class SurgeScreen:
    def __init__(self, rules: list[SurgeRule]) -> None:
        self.rules = [_checks(rule) for rule in rules]

    def may_count(self, fields: Fields) -> bool:
        """Whether some rule may count the contact whose top-level members are ``fields``."""
        return any(all(check(fields) for check in checks) for checks in self.rules)


def _checks(rule: SurgeRule) -> list[Check]:
    by = rule.by
    checks: list[Check] = [lambda f: f.get(by) is not None]  # no value: not counted
    if rule.routes is not None:
        routes = frozenset(rule.routes)
        checks.append(lambda f: _route_in(f, routes))
    match = rule.match
    if match.category is not None:
        exact, dotted = frozenset(match.category), tuple(p + "." for p in match.category)
        checks.append(
            lambda f: _text_passes(f, "category", lambda v: v in exact or v.startswith(dotted))
        )
    if match.product is not None:
        products = frozenset(match.product)
        checks.append(lambda f: _text_passes(f, "product", products.__contains__))
    for name, expression in (match.regex or {}).items():
        if name in SCREENED_REGEX:
            pattern = re.compile(expression)
            checks.append(
                lambda f, n=name, p=pattern: _text_passes(f, n, lambda v: bool(p.search(v)))
            )
    return checks


def _text_passes(fields: Fields, name: str, test: Callable[[str], bool]) -> bool:
    value = fields.get(name)
    if value is None:
        return False  # the full match misses a condition on an absent product too
    return test(value) if type(value) is str else True


def _route_in(fields: Fields, routes: frozenset[str]) -> bool:
    routing = fields.get("routing")
    route = routing.get("route") if type(routing) is dict else None
    return route in routes if type(route) is str else True
