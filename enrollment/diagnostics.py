"""Plain-words diagnosis of a registration: which step it reached, what went wrong, and what
fixes it (shown to admins on the registrations list and to users on their registration page)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from audit.models import AuditEvent
from enrollment.models import Registration, RegistrationMethod, RegistrationState

STEPS = (
    ("created_at", "Started"),
    ("profile_downloaded_at", "Profile downloaded"),
    ("certificate_issued_at", "Identity certificate issued (SCEP)"),
    ("enrolled_at", "Enrolled"),
)


@dataclass(frozen=True)
class Diagnosis:
    ok: bool
    summary: str
    fix: str = ""


def steps(registration: Registration) -> list[tuple[str, object]]:
    return [(label, getattr(registration, field)) for field, label in STEPS]


# What to do after a registration that did not complete, where it is not "start again".
AGAIN = {
    RegistrationMethod.RENEWAL: "The next renewal attempt follows on its own.",
    RegistrationMethod.ACCOUNT_DRIVEN: (
        "The user signs in again on the device: Settings > General > VPN & Device Management "
        "(Mac: System Settings > Privacy & Security > Profiles)."),
}


def diagnose(registration: Registration, scep_rejection: str | None = None) -> Diagnosis:
    """`scep_rejection`: the reason of the latest SCEP refusal for this registration, if any
    (e.g. "challenge expired")."""
    state, r = registration.state, registration
    expired = state == RegistrationState.EXPIRED or (
        state in (RegistrationState.STARTED, RegistrationState.PROFILE_DOWNLOADED,
                  RegistrationState.CERTIFICATE_ISSUED) and r.expires_at <= timezone.now())
    again = AGAIN.get(r.method, "Start registration again.")
    if state == RegistrationState.ENROLLED:
        return Diagnosis(True, "The device is enrolled.")
    if scep_rejection and "challenge" in scep_rejection:
        return Diagnosis(False, f"The device's certificate request was refused ({scep_rejection})"
                                ": the profile was installed after it expired or was used "
                                "twice. The device shows \"the SCEP server returned an invalid "
                                "response\".", again)
    if state == RegistrationState.CANCELLED:
        return Diagnosis(False, f"Cancelled{': ' + r.failure_reason if r.failure_reason else ''}."
                                " The device's management was not set up.", again)
    if state == RegistrationState.SUPERSEDED:
        return Diagnosis(False, "A newer registration of the same device replaced this one.")
    if state == RegistrationState.FAILED:
        reason = (r.failure_reason or "see the audit trail").rstrip(".")
        return Diagnosis(False, f"Failed: {reason}.", again)
    if expired:
        if r.profile_downloaded_at is None:
            return Diagnosis(False, "The enrollment profile was never downloaded before the "
                                    "registration expired.", again)
        if r.certificate_issued_at is None:
            return Diagnosis(False, "The profile was downloaded but not installed in time, or "
                                    "its installation was cancelled on the device.", again)
        return Diagnosis(False, "The device received its identity certificate but never "
                                "completed MDM enrollment (installation cancelled, or the device "
                                "could not reach the server).",
                         again + " If it keeps happening, check the APNs topic in Settings.")
    if r.profile_downloaded_at is None:
        return Diagnosis(True, "Waiting for the enrollment profile to be downloaded.")
    if r.certificate_issued_at is None:
        return Diagnosis(True, "Waiting for the profile to be installed on the device.")
    return Diagnosis(True, "Waiting for the device to finish MDM enrollment.")


def latest_scep_rejections(tenant, registration_ids: list[int]) -> dict[int, str]:
    """registration id -> reason of its latest SCEP refusal (one query for a whole page)."""
    events = (AuditEvent.objects.for_tenant(tenant)
              .filter(action="scep.rejected", detail__registration_id__in=registration_ids)
              .order_by("created_at").values_list("detail", flat=True))
    return {detail["registration_id"]: detail.get("reason", "") for detail in events}
