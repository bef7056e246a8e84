"""One-time registration PINs (SPEC S16): issue, verify, lock.

The PIN is random digits; only a hash is stored: PBKDF2 over an HMAC of the PIN keyed with the
server secret. A PIN has few possible values, so the secret (not stretching) is what protects a
database dump, and a modest iteration count keeps bulk invitations of thousands of users fast.
Online guessing is stopped by the per-PIN attempt limit (then the PIN locks) and by the shared
login throttle (per account and per client address).
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from dataclasses import dataclass

from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.events import AuditAction
from audit.record import record
from enrollment.models import RegistrationPin, RegistrationPolicy
from enrollment.services.policies import policy_for
from users.models import User
from users.services import login_throttle

THROTTLE_SCOPE = "pin"


class PinHasher(PBKDF2PasswordHasher):
    algorithm = "pin_pbkdf2_sha256"
    iterations = 3_000


PIN_HASHER = PinHasher()


def _peppered(pin: str) -> str:
    return salted_hmac("enrollment.registration-pin", pin, algorithm="sha256").hexdigest()


def hash_pin(pin: str) -> str:
    return make_password(_peppered(pin), hasher=PIN_HASHER)


def pin_matches(pin: str, pin_hash: str) -> bool:
    try:
        return PIN_HASHER.verify(_peppered(pin), pin_hash)
    except (ValueError, AssertionError):
        return False


def new_pin(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


@dataclass(frozen=True)
class IssuedPin:
    pin: RegistrationPin
    raw: str  # shown or emailed once, never stored
    expires_at: dt.datetime


def build_pins(tenant, users, policy: RegistrationPolicy, *, actor, now=None
               ) -> dict[int, IssuedPin]:
    """Unsaved PINs for `users` (by user id), for a caller that revokes the old ones and
    bulk-creates these in its own transaction (see `revoke_live_pins`)."""
    now = now or timezone.now()
    expires_at = now + dt.timedelta(hours=policy.pin_validity_hours)
    created_by = actor if isinstance(actor, User) else None
    issued = {}
    for user in users:
        raw = new_pin(policy.pin_length)
        pin = RegistrationPin(tenant=tenant, user=user, pin_hash=hash_pin(raw), created_at=now,
                              expires_at=expires_at, max_attempts=policy.pin_max_attempts,
                              created_by=created_by)
        issued[user.pk] = IssuedPin(pin, raw, expires_at)
    return issued


def revoke_live_pins(tenant, user_ids, *, now=None) -> int:
    """Revoke every live PIN of these users (one UPDATE): a new PIN replaces the old. Call it
    in the transaction that inserts the new PINs: it locks the users' rows (in id order) so
    that concurrent issuers for one user queue instead of both inserting a live PIN."""
    user_ids = sorted(set(user_ids))
    # NO KEY: rows that merely point at these users (audit events...) may still be inserted,
    # so a PIN check holding its PIN row never waits on this lock while this waits on it.
    list(User.objects.select_for_update(no_key=True).filter(pk__in=user_ids).order_by("pk")
         .values_list("pk", flat=True))
    return (RegistrationPin.objects.for_tenant(tenant)
            .filter(user_id__in=user_ids, used_at=None, locked_at=None, revoked_at=None)
            .update(revoked_at=now or timezone.now()))


@transaction.atomic
def do_issue_pin(tenant, user: User, *, actor, origin=None) -> IssuedPin:
    """Issue a new PIN for one user (revoking the previous one), audited."""
    if user.tenant_id != tenant.id:
        raise ValueError("user of another tenant")
    policy = policy_for(tenant)
    revoke_live_pins(tenant, [user.pk])
    issued = build_pins(tenant, [user], policy, actor=actor)[user.pk]
    issued.pin.save()
    record(tenant, AuditAction.PIN_ISSUED, actor=actor, target=issued.pin, user=user,
           origin=origin, detail={"expires_at": issued.expires_at.isoformat()})
    return issued


class PinOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"            # wrong digits; attempts_left says how many remain
    LOCKED = "locked"          # too many wrong tries (this one locked it, or earlier ones)
    EXPIRED = "expired"
    NO_PIN = "no_pin"          # none issued, or used / replaced
    THROTTLED = "throttled"    # too many attempts from this address or for this account


@dataclass(frozen=True)
class PinCheck:
    outcome: PinOutcome
    attempts_left: int | None = None
    pin: RegistrationPin | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is PinOutcome.OK

    @property
    def message(self) -> str:
        """User-facing text."""
        return PIN_MESSAGES[self.outcome].format(left=self.attempts_left)


PIN_MESSAGES = {
    PinOutcome.OK: "PIN accepted.",
    PinOutcome.WRONG: "The email or PIN is not correct ({left} attempt(s) left).",
    PinOutcome.LOCKED: "This PIN is locked after too many wrong entries. "
                       "Ask your administrator to send a new invitation.",
    PinOutcome.EXPIRED: "This PIN has expired. Ask your administrator to send a new invitation.",
    PinOutcome.NO_PIN: "The email or PIN is not correct.",
    PinOutcome.THROTTLED: "Too many attempts. Wait 15 minutes and try again.",
}


def verify_pin(tenant, user: User | None, pin: str, *, origin=None, email: str = "",
               consume: bool = True) -> PinCheck:
    """Check `pin` for `user` (None for an unknown email: answered like a wrong PIN).

    A correct PIN is consumed (single use), unless ``consume`` is False: then the caller
    spends it with :func:`spend_pin` in the transaction of what the PIN unlocks, so a request
    refused after the PIN check (e.g. its new password) does not cost the user their PIN.
    Wrong tries are counted on the PIN and audited; the try that reaches the policy's limit
    locks it (audited `pin.locked`).
    """
    account = user.email if user is not None else (email or "?")
    ip = origin.address if origin else None
    if login_throttle.is_locked(THROTTLE_SCOPE, tenant.id, account, ip):
        return PinCheck(PinOutcome.THROTTLED)
    if user is None or user.tenant_id != tenant.id or not user.is_active:
        login_throttle.record_failure(THROTTLE_SCOPE, tenant.id, account, ip)
        record(tenant, AuditAction.PIN_FAILED, actor=account[:200], origin=origin,
               detail={"email": account[:254], "reason": "unknown account"})
        return PinCheck(PinOutcome.NO_PIN)
    check = _check_and_consume(tenant, user, pin, origin, consume=consume)
    if check.ok:
        login_throttle.reset(THROTTLE_SCOPE, tenant.id, account)
    elif check.outcome in (PinOutcome.WRONG, PinOutcome.LOCKED, PinOutcome.NO_PIN):
        login_throttle.record_failure(THROTTLE_SCOPE, tenant.id, account, ip)
    return check


def spend_pin(tenant, user: User, check: PinCheck, *, origin=None) -> bool:
    """Spend the PIN of a ``verify_pin(consume=False)`` check, inside the caller's transaction;
    False when it was spent, replaced or locked meanwhile."""
    spent = (RegistrationPin.objects.for_tenant(tenant)
             .filter(pk=check.pin.pk, used_at=None, revoked_at=None, locked_at=None)
             .update(used_at=timezone.now()))
    if spent:
        record(tenant, AuditAction.PIN_VERIFIED, actor=user, target=check.pin, user=user,
               origin=origin)
    return bool(spent)


@transaction.atomic
def _check_and_consume(tenant, user: User, pin: str, origin, *,
                       consume: bool = True) -> PinCheck:
    current = (RegistrationPin.objects.for_tenant(tenant).select_for_update()
               .filter(user=user, used_at=None, revoked_at=None).order_by("-created_at").first())
    now = timezone.now()
    if current is None:
        record(tenant, AuditAction.PIN_FAILED, actor=user, user=user, origin=origin,
               detail={"reason": "no live PIN"})
        return PinCheck(PinOutcome.NO_PIN)
    if current.locked_at is not None:
        record(tenant, AuditAction.PIN_FAILED, actor=user, target=current, user=user,
               origin=origin, detail={"reason": "locked"})
        return PinCheck(PinOutcome.LOCKED, 0, current)
    if current.expires_at <= now:
        record(tenant, AuditAction.PIN_FAILED, actor=user, target=current, user=user,
               origin=origin, detail={"reason": "expired"})
        return PinCheck(PinOutcome.EXPIRED, None, current)
    candidate = (pin or "").strip()
    if candidate.isdigit() and len(candidate) <= 32 and pin_matches(candidate, current.pin_hash):
        check = PinCheck(PinOutcome.OK, None, current)
        if consume:
            spend_pin(tenant, user, check, origin=origin)
        return check
    current.failed_attempts += 1
    left = max(current.max_attempts - current.failed_attempts, 0)
    fields = ["failed_attempts"]
    record(tenant, AuditAction.PIN_FAILED, actor=user, target=current, user=user,
           origin=origin, detail={"reason": "wrong PIN", "attempts_left": left})
    if left == 0:
        current.locked_at = now
        fields.append("locked_at")
        record(tenant, AuditAction.PIN_LOCKED, actor=user, target=current, user=user,
               origin=origin, detail={"failed_attempts": current.failed_attempts})
    current.save(update_fields=fields)
    return PinCheck(PinOutcome.LOCKED if left == 0 else PinOutcome.WRONG, left, current)


def has_live_pin(tenant, user: User) -> bool:
    return RegistrationPin.objects.for_tenant(tenant).filter(
        user=user, used_at=None, locked_at=None, revoked_at=None,
        expires_at__gt=timezone.now()).exists()


@transaction.atomic
def do_set_registration_password(tenant, user: User, password: str, *, origin=None) -> None:
    """S16: after a correct PIN (or a temporary password) the user sets their own password.
    The caller has validated it with Django's password validators."""
    if user.tenant_id != tenant.id or user.source == "ldap":
        raise ValueError("only a local account of this tenant can set a password here")
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    record(tenant, AuditAction.REGISTRATION_PASSWORD_SET, actor=user, target=user, user=user,
           origin=origin)
