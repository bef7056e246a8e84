"""Enrollment tokens, one per Android registration (SPEC R6, S14, S17).

`enrollmentTokens.create` with the policy for the ownership (fully managed: company policy
with the CA clean-up, no personal use; work profile: default policy, personal use allowed),
a duration equal to what is left of the registration window, `oneTimeOnly`, and
`additionalData` = "registration:<id>" so the ENROLLMENT notification names its registration.
Google returns `value` and `qrCode` only here, so both are stored (encrypted). Tokens of
registrations that ended (cancelled, expired, superseded, enrolled) are deleted on Google.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from enrollment.android.amapi import AmapiNotFound, client_for
from enrollment.android.binding import AndroidSetupError, bound_enterprise_for
from enrollment.models import OPEN_STATES, AndroidEnrollmentToken, AndroidOwnership, Registration

ADDITIONAL_DATA_PREFIX = "registration:"
MINIMUM_DURATION = dt.timedelta(minutes=1)
WORK_PROFILE_ENROLL_URL = "https://enterprise.google.com/android/enroll"
PERSONAL_USAGE = {
    AndroidOwnership.WORK_PROFILE: "PERSONAL_USAGE_ALLOWED",
    AndroidOwnership.FULLY_MANAGED: "PERSONAL_USAGE_DISALLOWED",
}


def additional_data_for(registration: Registration) -> str:
    return f"{ADDITIONAL_DATA_PREFIX}{registration.pk}"


def registration_id_from(additional_data: str | None) -> int | None:
    match = re.fullmatch(r"registration:(\d{1,18})", additional_data or "")
    return int(match.group(1)) if match else None


def work_profile_link(token_value: str) -> str:
    """The link a personal device opens to set up its work profile."""
    return f"{WORK_PROFILE_ENROLL_URL}?{urlencode({'et': token_value})}"


def create_enrollment_token(registration: Registration, *, actor, origin=None,
                            ownership: str | None = None) -> AndroidEnrollmentToken:
    """Create (on Google) and store the registration's token. Raises AndroidSetupError when no
    enterprise is bound, AmapiError when Google refuses."""
    tenant = registration.tenant
    enterprise = bound_enterprise_for(tenant)
    if enterprise is None:
        raise AndroidSetupError("Android Enterprise is not set up for this organization yet.")
    ownership = ownership or enterprise.default_ownership
    policy = (enterprise.company_policy_name if ownership == AndroidOwnership.FULLY_MANAGED
              else enterprise.default_policy_name)
    remaining = max(registration.expires_at - timezone.now(), MINIMUM_DURATION)
    body = {
        "policyName": policy,
        "duration": f"{int(remaining.total_seconds())}s",
        "oneTimeOnly": True,
        "allowPersonalUsage": PERSONAL_USAGE[ownership],
        "additionalData": additional_data_for(registration),
    }
    created = client_for(enterprise).create_enrollment_token(enterprise.enterprise_name, body)
    with transaction.atomic():
        token = AndroidEnrollmentToken.objects.create(
            tenant=tenant, registration=registration, enterprise=enterprise,
            name=created["name"],
            secret_encrypted=AndroidEnrollmentToken.seal(created.get("value", ""),
                                                         created.get("qrCode", "")),
            policy_name=created.get("policyName", policy), ownership=ownership,
            one_time_only=True, expires_at=timezone.now() + remaining)
        record(tenant, AuditAction.ANDROID_TOKEN_CREATED, actor=actor, target=registration,
               user=registration.user, origin=origin,
               detail={"token": token.name, "ownership": ownership, "policy": policy,
                       "duration_seconds": int(remaining.total_seconds())})
    return token


def revoke_enrollment_token(token: AndroidEnrollmentToken, *, reason: str, actor) -> bool:
    """Delete the token on Google (already gone counts as done) and mark it revoked. False if
    it was already revoked."""
    if token.revoked_at is not None:
        return False
    with contextlib.suppress(AmapiNotFound):
        client_for(token.enterprise).delete_enrollment_token(token.name)
    with transaction.atomic():
        updated = AndroidEnrollmentToken.objects.filter(pk=token.pk, revoked_at__isnull=True) \
            .update(revoked_at=timezone.now(), revoke_reason=reason[:100])
        if updated:
            record(token.tenant, AuditAction.ANDROID_TOKEN_REVOKED, actor=actor,
                   target=token.registration, user=token.registration.user,
                   detail={"token": token.name, "reason": reason})
    return bool(updated)


def tokens_to_revoke(limit: int = 500):
    """Live tokens whose registration ended or whose time ran out (any tenant)."""
    now = timezone.now()
    from django.db.models import Q

    return (AndroidEnrollmentToken.objects.filter(revoked_at__isnull=True)
            .filter(Q(expires_at__lte=now) | ~Q(registration__state__in=OPEN_STATES))
            .select_related("enterprise", "registration__user", "tenant")
            .order_by("expires_at")[:limit])


def revoke_reason(token: AndroidEnrollmentToken) -> str:
    state = token.registration.state
    if state in OPEN_STATES:
        return "expired"
    return {"enrolled": "used"}.get(state, state)
