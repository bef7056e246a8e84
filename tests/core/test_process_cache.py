"""The per-process cache behind tenant_by_slug and the SCEP endpoint's active CA."""

from __future__ import annotations

from core import process_cache
from core.process_cache import ProcessCache


def test_loads_once_within_its_time_then_again(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(process_cache.time, "monotonic", lambda: clock[0])
    cache, loads = ProcessCache(30), []

    def load():
        loads.append(1)
        return len(loads)

    assert cache.get("acme", load) == 1
    clock[0] += 29
    assert cache.get("acme", load) == 1
    clock[0] += 2
    assert cache.get("acme", load) == 2


def test_forget_one_or_all_and_a_bounded_size():
    cache = ProcessCache(30, max_entries=2)
    cache.get("a", lambda: "A")
    cache.get("b", lambda: "B")
    cache.forget("a")
    assert cache.get("a", lambda: "A2") == "A2"
    cache.get("c", lambda: "C")  # full: starts over rather than growing
    assert len(cache._entries) == 1
    cache.forget()
    assert cache.get("c", lambda: "C2") == "C2"
