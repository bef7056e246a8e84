"""Rate limit for password and PIN attempts, per tenant+account and per client address.

Counts live in the cache (Redis in production) in fixed windows; a locked-out key answers
"too many attempts" until its window ends, even for the right password.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 15 * 60


def _keys(scope: str, tenant_id: int, account: str, ip: str | None) -> list[str]:
    # Folded as the sign-in lookup folds it (email__iexact is SQL UPPER on both sides): with
    # lower() alone, "ſ" (long s) would be a new account to count while it signs in as "s".
    folded = account.strip().upper().lower()
    digest = hashlib.sha256(f"{tenant_id}:{folded}".encode()).hexdigest()[:32]
    keys = [f"throttle:{scope}:acct:{digest}"]
    if ip:
        keys.append(f"throttle:{scope}:ip:{ip}")
    return keys


def is_locked(scope: str, tenant_id: int, account: str, ip: str | None) -> bool:
    limit = settings.MDM_LOGIN_ATTEMPT_LIMIT
    counts = cache.get_many(_keys(scope, tenant_id, account, ip))
    # The per-address limit is looser: several users may share one NAT address.
    return any(
        count >= (limit * 5 if ":ip:" in key else limit) for key, count in counts.items()
    )


def record_failure(scope: str, tenant_id: int, account: str, ip: str | None) -> None:
    for key in _keys(scope, tenant_id, account, ip):
        if cache.add(key, 1, WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, WINDOW_SECONDS)


def reset(scope: str, tenant_id: int, account: str) -> None:
    cache.delete_many(_keys(scope, tenant_id, account, None))
