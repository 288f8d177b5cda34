import subprocess
import sys

import orjson
import pytest
from pydantic import ValidationError

from escalation.services.common import crashpoints
from escalation.services.common.settings import Settings
from escalation.services.intake.auth import digest


@pytest.fixture(autouse=True)
def disarmed():
    yield
    crashpoints.arm(None)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("router.after_flush", "must be '<point>:<n>'"),
        ("router.after_flush:0", "n >= 1"),
        ("router.after_flush:x", "must be '<point>:<n>'"),
        ("router.before_anything:2", "unknown point 'router.before_anything'"),
    ],
)
def test_a_bad_crash_spec_says_what_is_wrong(spec, error):
    with pytest.raises(ValueError, match=error):
        crashpoints.parse(spec)
    with pytest.raises(ValidationError, match=error):
        Settings(crash_at=spec)


def test_crash_points_are_refused_under_the_production_profile():
    with pytest.raises(ValidationError, match="ESCALATION_CRASH_AT is a test setting"):
        Settings(
            profile="production",
            crash_at="pager.after_post:1",
            intake_tokens={"crm": digest("t")},
        )
    assert Settings(crash_at="pager.after_post:1").crash_at == "pager.after_post:1"
    assert Settings(crash_at="").crash_at is None


def test_an_unarmed_or_other_point_never_crashes():
    crashpoints.crash_point("pager.after_post")
    crashpoints.arm("router.after_flush:1")
    crashpoints.crash_point("pager.after_post")
    crashpoints.crash_point("router.after_flush", when=False)
    assert crashpoints._armed is not None and crashpoints._armed.crossed == 0


def run_child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_nth_crossing_kills_the_process_with_a_marker_and_nothing_after():
    child = run_child(
        "from escalation.services.common import crashpoints\n"
        "crashpoints.arm('escalator.after_emit:3')\n"
        "for n in range(1, 6):\n"
        "    crashpoints.crash_point('escalator.after_emit', when=n != 2)\n"
        "    print('crossed', n, flush=True)\n"
    )
    assert child.returncode == -9  # SIGKILL: no handler, no flush, no atexit
    assert child.stdout.split("\n")[:-1] == ["crossed 1", "crossed 2", "crossed 3"]
    marker = orjson.loads(child.stderr.strip().splitlines()[-1])
    assert marker["event"] == crashpoints.MARKER
    assert (marker["point"], marker["crossing"]) == ("escalator.after_emit", 3)
