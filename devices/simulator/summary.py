"""What a simulation run counts: enrolled, failed (with reasons) and per-step timings."""

from __future__ import annotations

import math
import time
from collections import Counter


class Summary:
    def __init__(self, total: int):
        self.total, self.enrolled, self.failed = total, 0, 0
        self.timings: dict[str, list[float]] = {}
        self.errors: Counter = Counter()
        self.started = time.perf_counter()

    @property
    def done(self) -> int:
        return self.enrolled + self.failed

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def add(self, run) -> None:
        self.enrolled += 1
        for step, seconds in run.timings.items():
            self.timings.setdefault(step, []).append(seconds)

    def percentile(self, step: str, fraction: float) -> float:
        """Nearest-rank percentile of a step's durations, in seconds (0.5: the median)."""
        ordered = sorted(self.timings[step])
        return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * fraction) - 1))]

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.errors[reason[:200]] += 1
