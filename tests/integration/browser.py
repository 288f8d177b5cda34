"""A headless Chromium for tests, driven by Playwright: Debian's ``chromium`` package,
installed by ``make browser`` (Playwright's own browser download is not used).

Under CI (``CI=true``) a missing browser fails the test, so a broken install step cannot
pass as a skipped test; on a developer's machine it skips, saying how to install it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser")


def _missing(why: str) -> None:
    message = f"{why}; run `make browser` (as root it apt-get installs chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def chromium_path() -> str:
    """The browser's executable (``ESCALATION_TEST_CHROMIUM``, else chromium on PATH),
    once Playwright is importable; else a skip, or under CI a failure."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed (make install)")
    explicit = os.environ.get("ESCALATION_TEST_CHROMIUM")
    found = explicit or next(filter(None, map(shutil.which, CANDIDATES)), None)
    if not found or not os.access(found, os.X_OK):
        _missing(f"no chromium at {explicit!r}" if explicit else "no chromium on PATH")
    assert found is not None
    return found


@contextmanager
def headless_chromium(executable: str) -> Iterator[Any]:
    """A fresh browser for one test; closed, with its process, when the test ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
