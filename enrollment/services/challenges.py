"""Mint and consume one-time SCEP challenges."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
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


_CONSUME_SQL = f"""UPDATE {Challenge._meta.db_table} SET used_at = %s
WHERE tenant_id = %s AND challenge_hash = %s AND used_at IS NULL AND expires_at > %s
RETURNING *"""  # noqa: S608 - the table name comes from the model


def consume_challenge(tenant, raw: str | None) -> Challenge:
    """Mark the challenge used; call inside the issuing transaction. One conditional UPDATE
    (the row lock makes a concurrent second use see it used); only a refusal reads the row
    again, to say why (unknown, reused or expired)."""
    if not raw:
        raise ChallengeRejected("missing")
    digest = hash_challenge(raw)
    now = connection.ops.adapt_datetimefield_value(timezone.now())  # raw SQL: as the ORM would
    consumed = list(Challenge.objects.raw(_CONSUME_SQL, [now, tenant.pk, digest, now]))
    if consumed:
        return consumed[0]
    challenge = Challenge.objects.for_tenant(tenant).filter(challenge_hash=digest).first()
    if challenge is None:
        raise ChallengeRejected("unknown")
    if challenge.used_at is not None:
        raise ChallengeRejected("reused", challenge)
    raise ChallengeRejected("expired", challenge)
