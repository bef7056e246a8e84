"""CPU accounting for the benchmarks, from /proc (Linux): a process tree, the PostgreSQL
server processes, and the whole machine, in CPU seconds."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int | str) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def process_tree_cpu(root_pid: int) -> float:
    """User+system CPU seconds of a process and its children (gunicorn master + workers)."""
    pids = [root_pid]
    children = Path(f"/proc/{root_pid}/task/{root_pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        try:
            total += _ticks(pid)
        except FileNotFoundError:
            continue
    return total / CLOCK_TICKS


def postgres_cpu() -> float:
    """CPU seconds of every running PostgreSQL process (server, backends, background)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_bytes().startswith(b"postgres"):
                total += _ticks(entry.name)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / CLOCK_TICKS


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores, everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS
