"""Running a service's coroutine: an ImportError inside it is the service's, not uvloop's."""

from __future__ import annotations

import pytest

from escalation.services.common.runner import run_async


def test_an_import_error_inside_the_service_is_raised_once_and_not_rerun():
    runs = []

    async def service() -> None:
        runs.append(1)
        raise ImportError("No module named 'a_missing_target_library'")

    with pytest.raises(ImportError, match="a_missing_target_library"):
        run_async(service())
    assert runs == [1]
