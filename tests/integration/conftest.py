import asyncio

import pytest

from escalation.services.common.broker import EmbeddedBroker, ensure_topics
from escalation.services.common.topics import catalogue
from escalation.services.intake.auth import digest
from escalation.testing.stack import Stack, listening, start_stack, stop_stack

TOKENS = {"crm": "test-token-crm", "chat": "test-token-chat"}


@pytest.fixture(scope="session")
def stack() -> Stack:
    hashed = ",".join(f'"{source}": "{digest(token)}"' for source, token in TOKENS.items())
    running = start_stack({"ESCALATION_INTAKE_TOKENS": "{" + hashed + "}"})
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
