"""Mint and consume one-time SCEP challenges."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from users.models import User

from ..models import Challenge


def hash_challenge(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class MintedChallenge:
    challenge: Challenge
    raw: str  # goes into one enrollment profile; never stored


@transaction.atomic
def do_create_challenge(tenant, *, actor, purpose: str = "",
                        ttl: dt.timedelta | None = None) -> MintedChallenge:
    ttl = ttl or dt.timedelta(minutes=settings.MDM_SCEP_CHALLENGE_TTL_MINUTES)
    raw = secrets.token_urlsafe(24)
    challenge = Challenge.objects.create(
        tenant=tenant, challenge_hash=hash_challenge(raw), expires_at=timezone.now() + ttl,
        purpose=purpose[:100], created_by=actor if isinstance(actor, User) else None,
    )
    record(tenant, AuditAction.CHALLENGE_CREATED, actor=actor, target=challenge,
           detail={"expires_at": challenge.expires_at.isoformat(), "purpose": purpose[:100]})
    return MintedChallenge(challenge, raw)


class ChallengeRejected(Exception):
    """`reason` is one of missing, unknown, expired, reused; `challenge` when one matched."""

    def __init__(self, reason: str, challenge: Challenge | None = None):
        super().__init__(reason)
        self.reason = reason
        self.challenge = challenge


def consume_challenge(tenant, raw: str | None) -> Challenge:
    """Mark the challenge used; call inside the issuing transaction (row locked, so two
    concurrent requests with one challenge cannot both pass)."""
    if not raw:
        raise ChallengeRejected("missing")
    challenge = (Challenge.objects.for_tenant(tenant).select_for_update()
                 .filter(challenge_hash=hash_challenge(raw)).first())
    if challenge is None:
        raise ChallengeRejected("unknown")
    if challenge.used_at is not None:
        raise ChallengeRejected("reused", challenge)
    if challenge.is_expired:
        raise ChallengeRejected("expired", challenge)
    challenge.used_at = timezone.now()
    challenge.save(update_fields=["used_at"])
    return challenge
