"""The tenant's registration policy: read (created with defaults on first use) and save."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from audit.events import AuditAction
from audit.record import record
from enrollment.models import PinRequirement, RegistrationPolicy

POLICY_FIELDS = ("pin_requirement", "pin_length", "pin_validity_hours", "pin_max_attempts",
                 "invitation_validity_days", "email_temporary_password")


def policy_for(tenant) -> RegistrationPolicy:
    """The tenant's policy; a default one is created the first time."""
    policy = RegistrationPolicy.objects.for_tenant(tenant).first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return RegistrationPolicy.objects.create(tenant=tenant)
    except IntegrityError:  # created concurrently
        return RegistrationPolicy.objects.for_tenant(tenant).get()


@transaction.atomic
def do_save_registration_policy(tenant, values: dict, *, actor, origin=None
                                ) -> RegistrationPolicy:
    """Apply validated `values` (a subset of POLICY_FIELDS); audits what changed."""
    policy = policy_for(tenant)
    policy = RegistrationPolicy.objects.select_for_update().get(pk=policy.pk)
    changed = {}
    for name in POLICY_FIELDS:
        if name in values and getattr(policy, name) != values[name]:
            changed[name] = values[name]
            setattr(policy, name, values[name])
    policy.full_clean()
    policy.save()
    if changed:
        record(tenant, AuditAction.REGISTRATION_POLICY_SAVED, actor=actor, target=policy,
               origin=origin, detail={"changed": changed})
    return policy


def pin_required(policy: RegistrationPolicy, user) -> bool:
    """S16: a PIN is required when the account has no password of its own (a local account
    without a usable password), when the user's settings demand one, or when the tenant's
    policy says always. Directory accounts sign in with network credentials."""
    if policy.pin_requirement == PinRequirement.ALWAYS:
        return True
    if getattr(user, "require_registration_pin", False):
        return True
    return needs_password(user)


def needs_password(user) -> bool:
    """A local account the user cannot sign in to with a password (none set yet)."""
    return user.source != "ldap" and not user.has_usable_password()
