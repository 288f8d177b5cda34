"""Logs: context bound per unit of work, and no customer text in them, by default."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from structlog.testing import capture_logs

from escalation.services.common.logging import bound, configure_logging
from escalation.services.common.redact import REDACTED, Redactor


@pytest.fixture
def restore_logging():
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()
    structlog.contextvars.clear_contextvars()


def test_the_summary_is_redacted_without_any_setting():
    with capture_logs(processors=[Redactor()]) as logs:
        structlog.get_logger().info("contact", summary="Call me on 555-0100", urgency="high")
    assert logs[0]["summary"] == REDACTED and logs[0]["urgency"] == "high"


def test_named_attributes_are_redacted_inside_nested_mappings_too():
    with capture_logs(processors=[Redactor(["Email"])]) as logs:
        structlog.get_logger().info(
            "contact",
            attributes={"email": "a@example.com", "plan": "gold"},
            pages=[{"summary": "leak", "level": 1}],
        )
    assert logs[0]["attributes"] == {"email": REDACTED, "plan": "gold"}
    assert logs[0]["pages"] == [{"summary": REDACTED, "level": 1}]


def test_bound_context_reaches_every_line_of_the_unit_and_leaves_with_it():
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        with bound(event_id="e-1", escalation_id=None, route="vip"):
            structlog.get_logger().info("inside")
        structlog.get_logger().info("after")
    assert logs[0]["event_id"] == "e-1" and logs[0]["route"] == "vip"
    assert "escalation_id" not in logs[0]
    assert "event_id" not in logs[1]


def test_the_json_output_holds_no_summary_nor_configured_attribute(capsys, restore_logging):
    configure_logging("INFO", "json", service="intake", redact=["phone"])
    with bound(event_id="e-2", issue="748fe2ba"):
        structlog.get_logger("escalation.test").info(
            "intake.contact", summary="Projector dead; CEO at 10:00", phone="555-0100"
        )
    logging.getLogger("aiokafka").warning("library line, summary=%s", "not a field")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    ours = next(line for line in lines if line["event"] == "intake.contact")
    assert ours["summary"] == REDACTED and ours["phone"] == REDACTED
    assert ours["event_id"] == "e-2" and ours["issue"] == "748fe2ba"
    assert ours["service"] == "intake" and ours["level"] == "info"
    assert "Projector" not in err and "555-0100" not in err
