"""Start a registration and gather what the user needs next: the /go URL, the one-time
enrollment-profile URL (Apple) and a one-time PIN when the policy asks for one."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from enrollment.android.amapi import AmapiError
from enrollment.android.binding import AndroidSetupError
from enrollment.android.tokens import create_enrollment_token
from enrollment.apple.links import profile_url
from enrollment.models import Registration
from enrollment.services.links import current_go_url
from enrollment.services.pins import do_issue_pin
from enrollment.services.policies import pin_required, policy_for
from enrollment.services.registrations import do_start_registration


@dataclass(frozen=True)
class StartResult:
    registration: Registration
    go_url: str
    profile_url: str | None  # Apple platforms; one-time
    pin: str | None  # raw one-time PIN when the policy requires one and it was asked for
    # Android, when the tenant's enterprise is bound: the AMAPI enrollment token's value and
    # its QR provisioning payload (JSON), see enrollment/android/tokens.py.
    android_enrollment_token: str | None = None
    android_qr_payload: str | None = None


def start_registration(tenant, user, platform: str, method: str, *, actor, origin=None,
                       issue_pin: bool = False) -> StartResult:
    with transaction.atomic():
        started = do_start_registration(tenant, user, platform, method, actor=actor,
                                        origin=origin)
        pin = None
        if issue_pin and pin_required(policy_for(tenant), user):
            pin = do_issue_pin(tenant, user, actor=actor, origin=origin).raw
    android = (_android_token(started.registration, actor=actor, origin=origin)
               if platform == "android" else None)
    return StartResult(
        registration=started.registration,
        go_url=current_go_url(tenant),
        profile_url=profile_url(tenant, started.profile_token) if started.profile_token
        else None,
        pin=pin,
        android_enrollment_token=android.value if android else None,
        android_qr_payload=android.qr_code if android else None,
    )


def _android_token(registration, *, actor, origin):
    """The registration's AMAPI enrollment token, or None when Android Enterprise is not bound
    or Google failed (logged and on the Settings > Android page; the user can start again)."""
    try:
        return create_enrollment_token(registration, actor=actor, origin=origin)
    except (AndroidSetupError, AmapiError) as exc:
        logging.getLogger(__name__).warning("no Android enrollment token for %s: %s",
                                            registration, exc)
        return None
