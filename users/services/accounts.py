"""Tenants, accounts and API tokens: creation and sign-in, each audited."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core.origin import Origin
from tenants.signals import tenant_created
from users.auth import DirectoryUnreachable
from users.models import ApiToken, Tenant, User, UserRole, UserSource
from users.models.api_tokens import hash_token, new_raw_token
from users.services import login_throttle


@transaction.atomic
def do_create_tenant(
    slug: str, name: str, *, admin_email: str, admin_password: str, actor="system"
) -> tuple[Tenant, User]:
    tenant = Tenant(slug=slug, name=name)
    tenant.full_clean()
    tenant.save()
    admin = User.objects.create_user(tenant, admin_email, admin_password, role=UserRole.ADMIN)
    record(tenant, AuditAction.TENANT_CREATED, actor=actor, target=tenant)
    record(tenant, AuditAction.USER_CREATED, actor=actor, target=admin, user=admin,
           detail={"role": admin.role})
    tenant_created.send(sender=Tenant, tenant=tenant)
    return tenant, admin


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown once, never stored


@transaction.atomic
def do_create_api_token(tenant: Tenant, name: str, *, actor) -> IssuedToken:
    raw = new_raw_token()
    token = ApiToken.objects.create(
        tenant=tenant, name=name, key_hash=hash_token(raw), key_hint=raw[:10],
        created_by=actor if isinstance(actor, User) else None,
    )
    record(tenant, AuditAction.API_TOKEN_CREATED, actor=actor, target=token)
    return IssuedToken(token=token, raw=raw)


@transaction.atomic
def do_revoke_api_token(tenant: Tenant, token: ApiToken, *, actor) -> None:
    assert token.tenant_id == tenant.id
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(tenant, AuditAction.API_TOKEN_REVOKED, actor=actor, target=token)


class SignInError(Exception):
    """Wrong credentials, disabled account, or too many attempts (message is user-facing)."""


def sign_in(tenant: Tenant, email: str, password: str, *, require_admin: bool,
            origin: Origin | None = None) -> User:
    """Check credentials with rate limiting (per account and per ``origin``'s address); audit
    failures and lockouts. Raises SignInError. Starting the session (``login``) is the view's."""
    ip = origin.address if origin else None
    if login_throttle.is_locked("login", tenant.id, email, ip):
        record(tenant, AuditAction.LOGIN_LOCKED, actor=email[:200], origin=origin,
               detail={"email": email[:254]})
        raise SignInError("Too many failed attempts. Wait 15 minutes and try again.")
    try:
        user = authenticate(None, tenant=tenant, email=email, password=password)
    except DirectoryUnreachable as exc:
        # No password was checked, so the attempt does not count towards the lockout.
        record(tenant, AuditAction.LOGIN_FAILED, actor=email[:200], origin=origin,
               detail={"email": email[:254], "reason": "directory unreachable",
                       "error": str(exc)[:500]})
        raise SignInError("Directory unreachable: your network password cannot be checked "
                          "right now. Try again later or contact your administrator.") from None
    if user is None or (require_admin and not user.is_tenant_admin):
        login_throttle.record_failure("login", tenant.id, email, ip)
        record(tenant, AuditAction.LOGIN_FAILED, actor=email[:200], origin=origin,
               user=user, detail={"email": email[:254], "portal": "admin" if require_admin
                                  else "self-service"})
        raise SignInError("The email or password is not correct.")
    login_throttle.reset("login", tenant.id, email)
    record(tenant, AuditAction.LOGIN_SUCCEEDED, actor=user, user=user, origin=origin)
    return user


def check_new_password(user: User, password: str) -> None:
    """The password policy for a password the user chooses, plus: not the temporary one it
    replaces (else the change would change nothing). Raises ValidationError."""
    validate_password(password, user)
    if user.must_change_password and user.has_usable_password() and user.check_password(password):
        raise ValidationError("Choose a password other than the temporary one.")


@transaction.atomic
def do_set_own_password(tenant: Tenant, user: User, password: str, *,
                        origin: Origin | None = None) -> None:
    """The user replaced their temporary password (portal sign-in). The caller has checked
    it with `check_new_password`."""
    if user.tenant_id != tenant.id or not user.password_change_due:
        raise ValueError("only a local account of this tenant with a temporary password")
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    record(tenant, AuditAction.PASSWORD_CHANGED, actor=user, target=user, user=user,
           origin=origin, detail={"replaced": "temporary password"})


@dataclass(frozen=True)
class UnlockedAdmin:
    reenabled: bool       # the account was disabled and is active again
    password_reset: bool  # a temporary password was set (must be changed at sign-in)


@transaction.atomic
def do_unlock_admin(tenant: Tenant, admin: User, *, actor, temporary_password: str | None = None
                    ) -> UnlockedAdmin:
    """Give a locked-out admin their way back (an operator's command, not a portal action):
    re-enable the account, clear its sign-in lockout (after commit: the counters live in the
    cache) and, with `temporary_password` (checked by the caller), set it as a temporary
    password to be replaced at the next sign-in. Audited; the password never is."""
    if admin.tenant_id != tenant.id or admin.role != UserRole.ADMIN:
        raise ValueError("not an admin of this tenant")
    if temporary_password is not None and admin.source != UserSource.LOCAL:
        raise ValueError("a directory account's password lives in the directory")
    admin = User.objects.select_for_update().get(pk=admin.pk)
    reenabled = not admin.is_active
    fields = []
    if reenabled:
        admin.is_active = True
        fields.append("is_active")
    if temporary_password is not None:
        admin.set_password(temporary_password)
        admin.must_change_password = True
        fields += ["password", "must_change_password"]
    if fields:
        admin.save(update_fields=fields)
    record(tenant, AuditAction.ADMIN_UNLOCKED, actor=actor, target=admin, user=admin,
           detail={"reenabled": reenabled, "sign_in_lockout_cleared": True})
    if temporary_password is not None:
        record(tenant, AuditAction.ADMIN_PASSWORD_RESET, actor=actor, target=admin, user=admin,
               detail={"must_change_password": True})
    email = admin.email
    transaction.on_commit(lambda: login_throttle.reset("login", tenant.id, email))
    return UnlockedAdmin(reenabled=reenabled, password_reset=temporary_password is not None)
