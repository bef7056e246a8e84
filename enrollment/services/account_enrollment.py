"""Account-driven enrollment's state changes: the access token a web sign-in issues, and the
device's enrollment request that spends it on a registration with its profile claimed.

A token is one-time, of one tenant and one mode (adde or byod), valid
MDM_ACCOUNT_TOKEN_TTL_MINUTES, stored as SHA-256. Refusals are audited in their own
transaction and leave nothing else behind: no registration, the token untouched.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from enrollment.account.machine_info import MachineInfo
from enrollment.models import AccountEnrollmentToken, Registration, RegistrationMethod
from enrollment.services.challenges import MintedChallenge
from enrollment.services.registrations import do_claim_profile, do_start_registration, hash_token
from users.models import User


def token_window() -> dt.timedelta:
    return dt.timedelta(minutes=settings.MDM_ACCOUNT_TOKEN_TTL_MINUTES)


@transaction.atomic
def do_issue_account_token(tenant, user: User, mode: str, *, origin=None) -> str:
    """A new access token for ``user`` (signed in on the account sign-in page); the raw value
    goes to the device once, in the redirect."""
    assert user.tenant_id == tenant.id
    raw = secrets.token_urlsafe(32)
    token = AccountEnrollmentToken.objects.create(
        tenant=tenant, user=user, mode=mode, token_hash=hash_token(raw),
        expires_at=timezone.now() + token_window())
    record(tenant, AuditAction.ACCOUNT_TOKEN_ISSUED, actor=user, user=user, target=token,
           origin=origin, detail={"mode": mode, "expires_at": token.expires_at.isoformat()})
    return raw


def record_account_refusal(tenant, mode: str, reason: str, *, origin=None,
                           user: User | None = None, detail: dict | None = None) -> None:
    """Audit an enrollment request we refused (bad body, bad token), in its own
    transaction: nothing else was written."""
    record(tenant, AuditAction.ACCOUNT_ENROLLMENT_REFUSED, actor="device", user=user,
           origin=origin, detail={"mode": mode, "reason": reason, **(detail or {})})


@dataclass(frozen=True)
class AccountEnrollment:
    """The outcome: a registration with its SCEP challenge minted, or ``refused`` (unknown,
    used, expired, other_mode, user_disabled, unsupported_product)."""

    registration: Registration | None = None
    challenge: MintedChallenge | None = None
    user: User | None = None
    refused: str | None = None


def _refusal(token: AccountEnrollmentToken | None, mode: str, info: MachineInfo,
             now: dt.datetime) -> str | None:
    if token is None:
        return "unknown"
    if token.used_at is not None:
        return "used"
    if token.expires_at <= now:
        return "expired"
    if token.mode != mode:
        return "other_mode"
    if not token.user.is_active:
        return "user_disabled"
    if info.platform is None:
        return "unsupported_product"
    return None


@transaction.atomic
def do_account_enrollment(tenant, mode: str, raw_token: str, info: MachineInfo, *,
                          origin=None) -> AccountEnrollment:
    """Spend ``raw_token`` (this tenant's only: another tenant's is "unknown"), start the
    user's registration (method account_driven) and claim its profile. Run it inside the
    caller's transaction that renders the profile, so a profile that cannot be built spends
    nothing; a refusal returns normally, its audit event written."""
    token = (AccountEnrollmentToken.objects.for_tenant(tenant).select_for_update()
             .select_related("user").filter(token_hash=hash_token(raw_token)).first()
             ) if raw_token else None
    now = timezone.now()
    reason = _refusal(token, mode, info, now)
    if reason is not None:
        record_account_refusal(tenant, mode, reason, origin=origin,
                               user=token.user if token else None,
                               detail={"product": info.product})
        return AccountEnrollment(refused=reason)
    user = token.user
    started = do_start_registration(tenant, user, info.platform,
                                    RegistrationMethod.ACCOUNT_DRIVEN, actor=user, origin=origin)
    registration, minted = do_claim_profile(tenant, started.profile_token, origin=origin)
    token.used_at = now
    token.registration = registration
    token.save(update_fields=["used_at", "registration"])
    record(tenant, AuditAction.ACCOUNT_TOKEN_USED, actor=user, user=user, target=token,
           origin=origin, detail={"mode": mode, "registration_id": registration.pk,
                                  "product": info.product, "os_build": info.version})
    return AccountEnrollment(registration, minted, user)
