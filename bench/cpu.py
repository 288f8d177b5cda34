"""CPU seconds each process of the stack spent, from /proc: what a contact costs, by service.

On a shared 2-core machine, wall-clock rates move with the neighbours; CPU seconds per
contact move much less, and say which service would need a core first.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of ``pid``, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_pid(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far, or None if it is gone (or no /proc)."""
    stat = _stat(pid)
    return stat[1] if stat is not None else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (0 where there is no /proc)."""
    spent = cpu_by_pid(pid)
    return spent if spent is not None else 0.0


def stop(process: subprocess.Popen[bytes], within: float = 30.0) -> None:
    """Terminate a process the bench started; kill it if it has not gone ``within`` s."""
    process.terminate()
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _name(pid: int) -> str:
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    if len(argv) > 3 and argv[1:3] == [b"-m", b"escalation"]:
        return argv[3].decode()
    return "broker" if b"tansu" in argv[0] else Path(argv[0].decode()).name


def cpu_by_process(root: int) -> dict[str, float]:
    """CPU seconds so far of ``root``'s descendants (itself excluded), by service name."""
    if not PROC.exists():
        return {}
    children: dict[int, list[int]] = {}
    seconds: dict[int, float] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            seconds[int(entry.name)] = stat[1]
    totals: dict[str, float] = {}
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        name = _name(pid)
        totals[name] = totals.get(name, 0.0) + seconds.get(pid, 0.0)
    return totals


def per_contact(before: dict[str, float], after: dict[str, float], contacts: int) -> str:
    """'intake 250, router 240, ... (total 1,400)' in microseconds per contact."""
    spent = {name: (after[name] - before.get(name, 0.0)) * 1e6 / contacts for name in after}
    shown = {name: us for name, us in spent.items() if us >= 1 and name != "sink"}
    parts = ", ".join(f"{name} {us:,.0f}" for name, us in sorted(shown.items()))
    return f"{parts} (total {sum(shown.values()):,.0f})"
