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
from enrollment.models import Challenge
from users.models import User


def hash_challenge(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class MintedChallenge:
    challenge: Challenge
    raw: str  # goes into one enrollment profile; never stored


def mint_challenges(tenant, bindings: list[tuple[str, dt.datetime]], *,
                    purpose: str) -> list[MintedChallenge]:
    """One challenge per (common name, expiry) in one INSERT (a renewal batch), each bound to
    the common name its CSR must carry. The caller audits what they are for."""
    raws = [secrets.token_urlsafe(24) for _ in bindings]
    created = Challenge.objects.bulk_create([
        Challenge(tenant=tenant, challenge_hash=hash_challenge(raw), expires_at=expires_at,
                  purpose=purpose[:100], common_name=common_name[:64])
        for raw, (common_name, expires_at) in zip(raws, bindings, strict=True)])
    return [MintedChallenge(challenge, raw) for challenge, raw in zip(created, raws, strict=True)]


@transaction.atomic
def do_create_challenge(tenant, *, actor, purpose: str = "",
                        ttl: dt.timedelta | None = None, origin=None) -> MintedChallenge:
    ttl = ttl or dt.timedelta(minutes=settings.MDM_SCEP_CHALLENGE_TTL_MINUTES)
    raw = secrets.token_urlsafe(24)
    challenge = Challenge.objects.create(
        tenant=tenant, challenge_hash=hash_challenge(raw), expires_at=timezone.now() + ttl,
        purpose=purpose[:100], created_by=actor if isinstance(actor, User) else None,
    )
    record(tenant, AuditAction.CHALLENGE_CREATED, actor=actor, target=challenge,
           origin=origin,
           detail={"expires_at": challenge.expires_at.isoformat(), "purpose": purpose[:100]})
    return MintedChallenge(challenge, raw)


class ChallengeRejected(Exception):
    """`reason` is one of missing, unknown, expired, reused, wrong_subject; `challenge` when
    one matched."""

    def __init__(self, reason: str, challenge: Challenge | None = None):
        super().__init__(reason)
        self.reason = reason
        self.challenge = challenge


_SPEND_SQL = f"""UPDATE {Challenge._meta.db_table} SET used_at = %s
WHERE tenant_id = %s AND challenge_hash = %s AND used_at IS NULL AND expires_at > %s
  AND (common_name = '' OR common_name = %s)
RETURNING id AS challenge_id, purpose"""  # noqa: S608 - the table name comes from the model


def spend_statement(tenant, raw: str | None, common_name: str) -> tuple[str, list]:
    """The statement that spends challenge ``raw`` for a CSR named ``common_name``: it
    returns (challenge_id, purpose) when the challenge was unused, unexpired and bound to no
    other name, and no row otherwise. The SCEP depot runs it inside the statement that
    stores the certificate, so both happen or neither (the row lock makes a concurrent second
    use find it used). Missing: ChallengeRejected at once."""
    if not raw:
        raise ChallengeRejected("missing")
    now = connection.ops.adapt_datetimefield_value(timezone.now())  # raw SQL: as the ORM would
    return _SPEND_SQL, [now, tenant.pk, hash_challenge(raw), now, common_name]


def refusal(tenant, raw: str, common_name: str = "") -> ChallengeRejected:
    """Why ``raw`` could not be spent for ``common_name``: unknown, reused, expired or
    wrong_subject (read after the fact: only a refusal pays for it)."""
    digest = hash_challenge(raw)
    challenge = Challenge.objects.for_tenant(tenant).filter(challenge_hash=digest).first()
    if challenge is None:
        return ChallengeRejected("unknown")
    if challenge.used_at is not None:
        return ChallengeRejected("reused", challenge)
    if challenge.is_expired:
        return ChallengeRejected("expired", challenge)
    if challenge.common_name and challenge.common_name != common_name:
        return ChallengeRejected("wrong_subject", challenge)
    return ChallengeRejected("expired", challenge)
