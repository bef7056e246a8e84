"""The tenant's identity renewal policy (Settings > Certificate authority, and the API)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from enrollment.models import IdentityRenewalPolicy

POLICY_FIELDS = ("renew_days_before", "max_per_minute", "grace_days")


class RenewalPolicyInvalid(ValueError):
    """``errors``: field name -> what is wrong, in words an admin reads."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def renewal_policy(tenant) -> IdentityRenewalPolicy:
    """The tenant's policy; unsaved defaults when never saved."""
    return (IdentityRenewalPolicy.objects.for_tenant(tenant).first()
            or IdentityRenewalPolicy(tenant=tenant))


def renewal_window(policy: IdentityRenewalPolicy) -> dt.timedelta:
    return dt.timedelta(days=policy.renew_days_before)


def check_policy(values: dict) -> None:
    """The bounds of each field, and one rule across them: a renewed identity must not be due
    again at once, so renewals start less than a certificate's lifetime before expiry."""
    errors = {}
    for name in POLICY_FIELDS:
        field = IdentityRenewalPolicy._meta.get_field(name)
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            errors[name] = "must be a whole number"
            continue
        for validator in field.validators:
            limit = getattr(validator, "limit_value", None)
            if validator.code == "min_value" and value < limit:
                errors[name] = f"must be at least {limit}"
            elif validator.code == "max_value" and value > limit:
                errors[name] = f"must be at most {limit}"
    validity = settings.MDM_CERTIFICATE_VALIDITY_DAYS
    days = values.get("renew_days_before")
    if "renew_days_before" not in errors and days >= validity:
        errors["renew_days_before"] = (
            f"must be less than the identity certificates' lifetime ({validity} days)")
    if errors:
        raise RenewalPolicyInvalid(errors)


@transaction.atomic
def do_save_renewal_policy(tenant, *, actor, origin=None, **values) -> IdentityRenewalPolicy:
    """Save the fields given (the others keep their value); RenewalPolicyInvalid, nothing
    saved, when one is out of bounds. Audited with what changed."""
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise RenewalPolicyInvalid({name: "is not a policy field" for name in sorted(unknown)})
    policy, _ = IdentityRenewalPolicy.objects.select_for_update().get_or_create(tenant=tenant)
    merged = {name: values.get(name, getattr(policy, name)) for name in POLICY_FIELDS}
    check_policy(merged)
    changed = {name: merged[name] for name in POLICY_FIELDS
               if merged[name] != getattr(policy, name)}
    for name, value in merged.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.save()
    record(tenant, AuditAction.IDENTITY_RENEWAL_POLICY_SAVED, actor=actor, target=policy,
           origin=origin, detail={"changed": changed, **merged})
    return policy
