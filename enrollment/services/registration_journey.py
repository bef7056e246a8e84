"""Start a registration and gather what the user needs next: the /go URL, the one-time
enrollment-profile URL (Apple) and a one-time PIN when the policy asks for one."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from ..models import Registration
from .registrations import do_start_registration


@dataclass(frozen=True)
class StartResult:
    registration: Registration
    go_url: str
    profile_url: str | None  # Apple platforms; one-time
    pin: str | None  # raw one-time PIN when the policy requires one and it was asked for


def start_registration(tenant, user, platform: str, method: str, *, actor, request=None,
                       issue_pin: bool = False) -> StartResult:
    # Imported here: these modules import the registration services themselves.
    from enrollment.apple.links import profile_url

    from .links import current_go_url
    from .pins import do_issue_pin
    from .policies import pin_required, policy_for

    with transaction.atomic():
        started = do_start_registration(tenant, user, platform, method, actor=actor,
                                        request=request)
        pin = None
        if issue_pin and pin_required(policy_for(tenant), user):
            pin = do_issue_pin(tenant, user, actor=actor, request=request).raw
    return StartResult(
        registration=started.registration,
        go_url=current_go_url(tenant),
        profile_url=profile_url(tenant, started.profile_token) if started.profile_token
        else None,
        pin=pin,
    )
