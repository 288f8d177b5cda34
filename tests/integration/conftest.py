import pytest

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
