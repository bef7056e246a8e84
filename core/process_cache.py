"""Rows every request reads and that rarely change (a tenant, its active CA), kept in each
process for a few seconds. A change saved in this process is dropped at once (``forget``,
from a post_save signal); other processes see it within ``seconds``."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ProcessCache(Generic[V]):
    def __init__(self, seconds: float, max_entries: int = 10_000):
        self.seconds = seconds
        self.max_entries = max_entries  # unknown keys (say, slugs) must not grow it unbounded
        self._entries: dict[Hashable, tuple[float, V]] = {}

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.seconds:
            return hit[1]
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        value = load()
        self._entries[key] = (now, value)
        return value

    def forget(self, key: Hashable | None = None) -> None:
        """Drop one key, or everything."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
