import asyncio
import json

import pytest

from escalation.services.common.broker import EmbeddedBroker, ensure_topics
from escalation.services.common.topics import catalogue
from escalation.services.intake.auth import digest
from escalation.testing.stack import Stack, listening, start_stack, stop_stack

TOKENS = {"crm": "test-token-crm", "chat": "test-token-chat", "ops": "test-token-ops"}
"""Bearer tokens: two contact sources, and an operator console that acts on escalations."""
LINK_KEY = "lk_integration-tests-only-not-a-secret-0001"
"""The stack's link key, set rather than made by `escalation up`, so tests can sign links
(a constant: test modules import this file apart from pytest's own copy of it)."""


def token_setting() -> str:
    grants = {source: digest(token) for source, token in TOKENS.items()}
    grants["ops"] = {"digest": digest(TOKENS["ops"]), "scopes": ["escalations"]}
    return json.dumps(grants)


@pytest.fixture(scope="session")
def stack() -> Stack:
    running = start_stack(
        {"ESCALATION_INTAKE_TOKENS": token_setting(), "ESCALATION_LINK_KEYS": LINK_KEY}
    )
    yield running
    code = stop_stack(running)
    # Ctrl-C stops every child and the broker, and nothing keeps a port.
    assert code == 0, "\n".join(running.output[-30:])
    assert [p for p in running.ports if listening(p)] == []


@pytest.fixture
def broker():
    """A fresh broker with every topic (2 partitions), for tests that run single services."""
    with EmbeddedBroker() as running:
        asyncio.run(ensure_topics({"bootstrap_servers": running.bootstrap}, catalogue(2)))
        yield running
