"""Registration state changes, each audited in its transaction.

Two windows: a registration waits up to MDM_REGISTRATION_TTL_HOURS for its profile to be
downloaded (reminders run meanwhile, S13); downloading it mints the SCEP challenge (its raw
value only ever lives in that profile) and shortens the registration to the profile window,
MDM_SCEP_CHALLENGE_TTL_MINUTES (S5): after that the user starts again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record, record_many
from enrollment.models import (
    OPEN_STATES,
    Challenge,
    IssuedCertificate,
    Registration,
    RegistrationMethod,
    RegistrationState,
)
from enrollment.services.challenges import (
    MintedChallenge,
    do_create_challenge,
    mint_challenges,
)
from users.models import User

APPLE_PLATFORMS = ("ios", "macos")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def registration_window() -> dt.timedelta:
    return dt.timedelta(hours=settings.MDM_REGISTRATION_TTL_HOURS)


def profile_window() -> dt.timedelta:
    return dt.timedelta(minutes=settings.MDM_SCEP_CHALLENGE_TTL_MINUTES)


@dataclass(frozen=True)
class StartedRegistration:
    registration: Registration
    profile_token: str | None  # raw one-time download token (Apple platforms); never stored


@transaction.atomic
def do_start_registration(tenant, user: User, platform: str, method: str, *, actor,
                          origin=None) -> StartedRegistration:
    assert user.tenant_id == tenant.id
    token = secrets.token_urlsafe(32) if platform in APPLE_PLATFORMS else None
    registration = Registration.objects.create(
        tenant=tenant, user=user, platform=platform, method=method,
        expires_at=timezone.now() + registration_window(),
        profile_token_hash=hash_token(token) if token else None,
        created_by=actor if isinstance(actor, User) else None,
    )
    record(tenant, AuditAction.REGISTRATION_STARTED, actor=actor, target=registration,
           user=user, origin=origin, detail={"platform": platform, "method": method})
    return StartedRegistration(registration, token)


@dataclass(frozen=True)
class RenewalRequest:
    """A managed device whose identity is to be renewed: the user it belongs to, its
    platform, and the common name its one-time challenge will be bound to."""

    device_id: int
    user_id: int
    platform: str
    common_name: str
    expires_at: dt.datetime


def start_renewal_registrations(tenant, requests: list[RenewalRequest], *, actor, origin=None
                                ) -> list[tuple[Registration, MintedChallenge]]:
    """A renewal registration per request, its profile already "downloaded" (the profile goes
    to the device in an MDM command) with a one-time challenge bound to the request's name,
    both open until the request's expiry. Constant queries for the batch: the challenges, the
    registrations, their audit events. Run it inside the caller's transaction, which queues
    the commands."""
    if not requests:
        return []
    now = timezone.now()
    minted = mint_challenges(tenant, [(r.common_name, r.expires_at) for r in requests],
                             purpose="identity renewal")
    registrations = Registration.objects.bulk_create([
        Registration(tenant=tenant, user_id=r.user_id, platform=r.platform,
                     method=RegistrationMethod.RENEWAL, device_id=r.device_id,
                     state=RegistrationState.PROFILE_DOWNLOADED, challenge=m.challenge,
                     expires_at=r.expires_at, profile_downloaded_at=now,
                     created_by=actor if isinstance(actor, User) else None)
        for r, m in zip(requests, minted, strict=True)])
    record_many(tenant, AuditAction.REGISTRATION_STARTED, registrations, actor=actor,
                origin=origin, user_of=lambda r: r.user_id, device_of=lambda r: r.device_id,
                detail_of=lambda r: {"platform": r.platform, "method": r.method,
                                     "challenge_id": r.challenge_id})
    return list(zip(registrations, minted, strict=True))


def is_renewal_of(registration: Registration | None, device_pk: int) -> bool:
    return (registration is not None and registration.method == RegistrationMethod.RENEWAL
            and registration.device_id == device_pk)


class ProfileUnavailable(Exception):
    """`reason`: unknown, used, expired, closed (user-facing text is the caller's)."""

    def __init__(self, reason: str, registration: Registration | None = None):
        super().__init__(reason)
        self.reason = reason
        self.registration = registration


@transaction.atomic
def do_claim_profile(tenant, raw_token: str, *, origin=None
                     ) -> tuple[Registration, MintedChallenge]:
    """Redeem the one-time download token: mint the registration's SCEP challenge, valid for
    the profile window (the registration now ends with it), and mark the profile downloaded."""
    registration = (Registration.objects.for_tenant(tenant).select_for_update()
                    .select_related("user").filter(profile_token_hash=hash_token(raw_token))
                    .first()) if raw_token else None
    if registration is None:
        raise ProfileUnavailable("unknown")
    if registration.profile_downloaded_at is not None:
        raise ProfileUnavailable("used", registration)
    now = timezone.now()
    if registration.state not in OPEN_STATES:
        raise ProfileUnavailable("closed", registration)
    if registration.expires_at <= now:
        raise ProfileUnavailable("expired", registration)
    ttl = min(profile_window(), registration.expires_at - now)
    minted = do_create_challenge(tenant, actor=registration.user,
                                 purpose=f"registration:{registration.pk}", ttl=ttl)
    registration.challenge = minted.challenge
    registration.state = RegistrationState.PROFILE_DOWNLOADED
    registration.profile_downloaded_at = now
    registration.expires_at = now + ttl
    registration.save(update_fields=["challenge", "state", "profile_downloaded_at",
                                     "expires_at"])
    record(tenant, AuditAction.PROFILE_DOWNLOADED, actor=registration.user,
           target=registration, user=registration.user, origin=origin)
    return registration, minted


_CERTIFICATE_ISSUED_SQL = (
    f"UPDATE {Registration._meta.db_table} SET state = %s, certificate_issued_at = %s "  # noqa: S608
    f"WHERE state IN ({', '.join(['%s'] * len(OPEN_STATES))}) AND challenge_id = {{}}")


def certificate_issued_update(challenge_id_sql: str = "%s") -> tuple[str, list]:
    """The registration step "certificate issued" for the registration of a challenge, as SQL
    for the SCEP depot's issuing statement. ``challenge_id_sql`` gives the challenge's id: a
    column of that statement, or ``%s`` with the id appended to the parameters."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return (_CERTIFICATE_ISSUED_SQL.format(challenge_id_sql),
            [RegistrationState.CERTIFICATE_ISSUED, now, *OPEN_STATES])


def registration_for_certificate(issued: IssuedCertificate) -> Registration | None:
    """The registration an identity certificate was issued for (following renewals back)."""
    seen = 0
    while issued is not None and seen < 50:
        if issued.challenge_id is not None:
            return Registration.objects.filter(challenge_id=issued.challenge_id).first()
        issued, seen = issued.renewed_from, seen + 1
    return None


@transaction.atomic
def do_complete_registration(registration: Registration, device, *, actor, origin=None) -> bool:
    """The registration's side of a device enrolling (Apple: first device-channel TokenUpdate;
    Android: its ENROLLMENT notification): enrolled, bound to ``device``, and another open or
    enrolled registration of the same device superseded. Returns False when it was already
    complete. The device's side is devices.services.lifecycle.do_enroll_device, which calls
    this first."""
    locked = Registration.objects.select_for_update().get(pk=registration.pk)
    if locked.state == RegistrationState.ENROLLED:
        return False
    now = timezone.now()
    previous = list(
        Registration.objects.for_tenant(locked.tenant).select_for_update()
        .filter(device=device, state__in=[*OPEN_STATES, RegistrationState.ENROLLED])
        .exclude(pk=locked.pk))
    for old in previous:
        old.state, old.ended_at = RegistrationState.SUPERSEDED, now
        record(locked.tenant, AuditAction.REGISTRATION_SUPERSEDED, actor=actor, target=old,
               user=old.user, device=device, detail={"by": locked.pk})
    Registration.objects.bulk_update(previous, ["state", "ended_at"])
    locked.state, locked.enrolled_at, locked.device = RegistrationState.ENROLLED, now, device
    locked.supersedes = previous[0] if previous else None
    locked.save(update_fields=["state", "enrolled_at", "device", "supersedes"])
    # The registration's own trail ends here (as it does when it expires, is cancelled or is
    # superseded); the device's event is the device's side of the same moment.
    record(locked.tenant, AuditAction.REGISTRATION_ENROLLED, actor=actor, target=locked,
           user=locked.user, device=device, origin=origin,
           detail={"registration_id": locked.pk, "platform": locked.platform})
    registration.refresh_from_db()
    return True


@transaction.atomic
def do_cancel_registration(registration: Registration, *, actor, origin=None,
                           reason: str = "cancelled") -> bool:
    """Stop an open registration (S19); its challenge stops working. False if not open."""
    locked = Registration.objects.select_for_update().get(pk=registration.pk)
    if locked.state not in OPEN_STATES:
        return False
    now = timezone.now()
    locked.state, locked.ended_at, locked.failure_reason = (
        RegistrationState.CANCELLED, now, reason[:200])
    locked.save(update_fields=["state", "ended_at", "failure_reason"])
    if locked.challenge_id:
        Challenge.objects.filter(pk=locked.challenge_id, used_at__isnull=True).update(
            expires_at=now)
    record(locked.tenant, AuditAction.REGISTRATION_CANCELLED, actor=actor, target=locked,
           user=locked.user, origin=origin, detail={"reason": reason[:200]})
    return True
