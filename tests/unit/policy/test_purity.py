"""The pure half of the policy package reads no clock, file, environment, signal or thread.

Services, replay and the CLI all decide through these modules; a hidden clock or file
read would make replay disagree with the live services and tests depend on the day.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import escalation.policy

PURE = [
    "model",
    "match",
    "hours",
    "schedule",
    "choose",
    "engine",
    "targets",
    "escalation",
    "roster",
    "silences",
    "maintenance",
    "quiet",
    "silencing",
]
FORBIDDEN_MODULES = {"os", "pathlib", "signal", "threading", "time", "socket", "subprocess"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "open", "read_text", "read_bytes", "getenv"}

PACKAGE = Path(escalation.policy.__file__).parent


@pytest.mark.parametrize("name", PURE)
def test_pure_module_reads_no_clock_file_or_thread(name: str) -> None:
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(node.module)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in FORBIDDEN_CALLS:
                found.append(f"{called}() at line {node.lineno}")
    assert found == [], f"policy/{name}.py is meant to be pure but uses {found}"


def test_no_service_imports_another() -> None:
    services = PACKAGE.parent / "services"
    crossings = []
    for service in ("intake", "router", "escalator", "pager"):
        for path in (services / service).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    parts = node.module.split(".")
                    other = parts[2] if parts[:2] == ["escalation", "services"] else None
                    if other is not None and other not in (service, "common"):
                        crossings.append(f"{path.relative_to(services)}: {node.module}")
    assert crossings == []
