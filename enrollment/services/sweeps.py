"""Expiry sweeps (SPEC S5): registrations, SCEP challenges, profile download tokens, PINs and
invitations past their time. Set-based, audited, idempotent.

Each sweep works in batches of MDM_SWEEP_BATCH_SIZE, one transaction per batch, with a constant
number of queries per batch: rows are picked with `FOR UPDATE SKIP LOCKED`, changed with one
UPDATE, audited with one INSERT. A worker killed mid-batch rolls that batch back; the
redelivered task (acks_late) picks up exactly the rows still due, so every row is processed
once. `run_expiry_sweeps` holds an advisory lock: an overlapping run skips instead of queueing.

Android enrollment tokens are revoked on Google by the Android app's own periodic task
(`android.revoke_ended_tokens`, every minute), which also catches the registrations expired
here (bulk updates send no signal); it is not repeated in `SWEEPS`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from core.locks import session_lock
from enrollment.models import (
    OPEN_STATES,
    Challenge,
    Registration,
    RegistrationPin,
    RegistrationState,
)
from enrollment.services.invitations import expire_invitations

logger = logging.getLogger(__name__)

# The one-time profile link keeps answering "expired" (rather than "unknown") for this long.
PROFILE_TOKEN_GRACE = dt.timedelta(days=1)
LOCK_TIMEOUT_SECONDS = 15 * 60
SWEEP_ACTOR = "system:sweep"


def advisory_lock(name: str):
    """True when this run holds `name`; False when another run does (then skip). A session
    lock: the batches commit one by one under it (see core.locks)."""
    return session_lock(name, LOCK_TIMEOUT_SECONDS)


def _batch_size(batch_size: int | None) -> int:
    return batch_size or settings.MDM_SWEEP_BATCH_SIZE


def _in_batches(run_batch: Callable[[int], int], size: int) -> int:
    total = 0
    while True:
        done = run_batch(size)
        total += done
        if done < size:
            return total


def _summaries(action: str, tenant_ids: list[int], now: dt.datetime) -> list[AuditEvent]:
    """One audit event per tenant with its count (for rows that are not worth one each)."""
    return [AuditEvent(tenant_id=tenant_id, action=action, actor_label=SWEEP_ACTOR,
                       detail={"count": count, "at": now.isoformat()})
            for tenant_id, count in sorted(Counter(tenant_ids).items())]


# --- registrations ---------------------------------------------------------------------------

def do_expire_registrations(*, now: dt.datetime | None = None,
                            batch_size: int | None = None) -> int:
    """Expire every open registration past `expires_at` (its unused challenge stops working).
    One audit event per registration. 4 queries per batch. Returns how many expired."""
    now = now or timezone.now()
    return _in_batches(lambda size: _expire_registration_batch(now, size),
                       _batch_size(batch_size))


@transaction.atomic
def _expire_registration_batch(now: dt.datetime, size: int) -> int:
    rows = list(Registration.objects.filter(state__in=OPEN_STATES, expires_at__lte=now)
                .order_by("pk").select_for_update(skip_locked=True)
                .values_list("pk", "tenant_id", "user_id", "platform", "challenge_id")[:size])
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    Registration.objects.filter(pk__in=ids).update(
        state=RegistrationState.EXPIRED, ended_at=now, failure_reason="expired")
    Challenge.objects.filter(pk__in=[row[4] for row in rows if row[4]], used_at__isnull=True,
                             expires_at__gt=now).update(expires_at=now)
    AuditEvent.objects.bulk_create([
        AuditEvent(tenant_id=tenant_id, action=AuditAction.REGISTRATION_EXPIRED,
                   actor_label=SWEEP_ACTOR, user_id=user_id,
                   target_type=Registration._meta.label_lower, target_id=str(pk),
                   target_label=f"registration {pk} ({platform}, expired)",
                   detail={"reason": "expired"})
        for pk, tenant_id, user_id, platform, _challenge in rows])
    return len(rows)


# --- SCEP challenges, profile links, PINs ----------------------------------------------------

def do_expire_challenges(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Unused challenges of registrations that ended (cancelled, superseded, expired, failed)
    but are still within their own validity stop working now. 3 queries per batch."""
    now = now or timezone.now()
    return _in_batches(lambda size: _expire_challenge_batch(now, size), _batch_size(batch_size))


@transaction.atomic
def _expire_challenge_batch(now: dt.datetime, size: int) -> int:
    rows = list(Challenge.objects.filter(used_at__isnull=True, expires_at__gt=now)
                .exclude(registration__isnull=True)
                .exclude(registration__state__in=[*OPEN_STATES, RegistrationState.ENROLLED])
                .order_by("pk").select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", "tenant_id")[:size])
    if not rows:
        return 0
    Challenge.objects.filter(pk__in=[pk for pk, _ in rows]).update(expires_at=now)
    AuditEvent.objects.bulk_create(_summaries(AuditAction.CHALLENGES_EXPIRED,
                                              [tenant_id for _, tenant_id in rows], now))
    return len(rows)


def do_expire_profile_tokens(*, now: dt.datetime | None = None,
                             batch_size: int | None = None) -> int:
    """Forget the one-time profile download token of closed registrations (a day after their
    window, so the link first says "expired"). 3 queries per batch."""
    now = now or timezone.now()
    return _in_batches(lambda size: _expire_profile_token_batch(now, size),
                       _batch_size(batch_size))


@transaction.atomic
def _expire_profile_token_batch(now: dt.datetime, size: int) -> int:
    rows = list(Registration.objects.filter(profile_token_hash__isnull=False,
                                            expires_at__lte=now - PROFILE_TOKEN_GRACE)
                .exclude(state__in=OPEN_STATES).order_by("pk")
                .select_for_update(skip_locked=True).values_list("pk", "tenant_id")[:size])
    if not rows:
        return 0
    Registration.objects.filter(pk__in=[pk for pk, _ in rows]).update(profile_token_hash=None)
    AuditEvent.objects.bulk_create(_summaries(AuditAction.PROFILE_TOKENS_EXPIRED,
                                              [tenant_id for _, tenant_id in rows], now))
    return len(rows)


def do_expire_pins(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Close live PINs past their expiry: revoked as of their expiry time (the model has no
    separate expired mark), which also frees the one-live-PIN-per-user slot. 3 queries/batch."""
    now = now or timezone.now()
    return _in_batches(lambda size: _expire_pin_batch(now, size), _batch_size(batch_size))


@transaction.atomic
def _expire_pin_batch(now: dt.datetime, size: int) -> int:
    rows = list(RegistrationPin.objects.filter(used_at=None, locked_at=None, revoked_at=None,
                                               expires_at__lte=now)
                .order_by("pk").select_for_update(skip_locked=True)
                .values_list("pk", "tenant_id")[:size])
    if not rows:
        return 0
    RegistrationPin.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        revoked_at=F("expires_at"))
    AuditEvent.objects.bulk_create(_summaries(AuditAction.PINS_EXPIRED,
                                              [tenant_id for _, tenant_id in rows], now))
    return len(rows)


def do_expire_invitations(*, now: dt.datetime | None = None, batch_size: int | None = None
                          ) -> int:
    return expire_invitations(now)


SWEEPS: dict[str, Callable[..., int]] = {
    "registrations": do_expire_registrations,
    "challenges": do_expire_challenges,
    "profile_tokens": do_expire_profile_tokens,
    "pins": do_expire_pins,
    "invitations": do_expire_invitations,
}


def run_expiry_sweeps(*, now: dt.datetime | None = None, batch_size: int | None = None
                      ) -> dict:
    """Every sweep, under one advisory lock. {"skipped": True} when another run holds it."""
    with advisory_lock("enrollment-expiry-sweeps") as acquired:
        if not acquired:
            return {"skipped": True}
        now = now or timezone.now()
        return {name: sweep(now=now, batch_size=batch_size) for name, sweep in SWEEPS.items()}
