"""Run-once locks for periodic work: an overlapping run skips instead of queueing.

PostgreSQL: advisory locks (a dead worker's connection or transaction ends and releases them).
Elsewhere (SQLite in the embedded run): a cache key with an expiry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import connection

DEFAULT_TIMEOUT_SECONDS = 15 * 60


def _key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


def _fetch(sql: str, key: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        return bool(cursor.fetchone()[0])


@contextmanager
def _cache_lock(name: str, timeout: int) -> Iterator[bool]:
    acquired = cache.add(f"lock:{name}", 1, timeout)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(f"lock:{name}")


@contextmanager
def transaction_lock(name: str, timeout: int = DEFAULT_TIMEOUT_SECONDS) -> Iterator[bool]:
    """Held until the surrounding transaction ends (use inside `transaction.atomic`)."""
    if connection.vendor != "postgresql":
        with _cache_lock(name, timeout) as acquired:
            yield acquired
        return
    yield _fetch("SELECT pg_try_advisory_xact_lock(%s)", _key(name))


@contextmanager
def session_lock(name: str, timeout: int = DEFAULT_TIMEOUT_SECONDS) -> Iterator[bool]:
    """Held across several transactions (work committed batch by batch) until the block ends."""
    if connection.vendor != "postgresql":
        with _cache_lock(name, timeout) as acquired:
            yield acquired
        return
    key = _key(name)
    acquired = _fetch("SELECT pg_try_advisory_lock(%s)", key)
    try:
        yield acquired
    finally:
        if acquired:
            _fetch("SELECT pg_advisory_unlock(%s)", key)
