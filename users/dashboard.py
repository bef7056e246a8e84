"""The admin dashboard's figures: devices by state and platform, the registration funnel over
a period, and alerts. A handful of aggregate queries, whatever the tenant's size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from devices.models import Device, DeviceState, Platform
from enrollment.models import Invitation, Registration, RegistrationState

EXPIRY_WARNING = dt.timedelta(days=30)


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    link: str  # query string of the list behind the bar
    kind: str = ""  # css class: "", "bad"


@dataclass(frozen=True)
class Alert:
    level: str  # "warn" | "bad"
    text: str
    link_name: str  # portal URL name of the page that fixes it


def device_matrix(tenant) -> tuple[list[Bar], dict[str, dict[str, int]]]:
    rows = (Device.objects.for_tenant(tenant).values("platform", "state")
            .annotate(n=Count("id")).order_by())
    matrix: dict[str, dict[str, int]] = {p: {} for p, _ in Platform.choices}
    by_state: dict[str, int] = {}
    for row in rows:
        matrix.setdefault(row["platform"], {})[row["state"]] = row["n"]
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["n"]
    bars = [Bar(label, by_state.get(state, 0), f"state={state}",
                "bad" if state in (DeviceState.WIPED, DeviceState.INACTIVE) else "")
            for state, label in DeviceState.choices]
    return bars, matrix


def registration_funnel(tenant, days: int) -> list[Bar]:
    since = timezone.now() - dt.timedelta(days=days)
    invitations = Invitation.objects.for_tenant(tenant).aggregate(
        invited=Count("id", filter=Q(created_at__gte=since)),
        opened=Count("id", filter=Q(opened_at__gte=since)),
    )
    registrations = Registration.objects.for_tenant(tenant).aggregate(
        downloaded=Count("id", filter=Q(profile_downloaded_at__gte=since)),
        issued=Count("id", filter=Q(certificate_issued_at__gte=since)),
        enrolled=Count("id", filter=Q(enrolled_at__gte=since)),
        expired=Count("id", filter=Q(created_at__gte=since,
                                     state=RegistrationState.EXPIRED)),
        cancelled=Count("id", filter=Q(created_at__gte=since,
                                       state=RegistrationState.CANCELLED)),
        failed=Count("id", filter=Q(created_at__gte=since, state=RegistrationState.FAILED)),
    )
    return [
        Bar("Invited", invitations["invited"], ""),
        Bar("Link opened", invitations["opened"], ""),
        Bar("Profile downloaded / token used", registrations["downloaded"],
            "step=profile_downloaded"),
        Bar("Certificate issued (SCEP)", registrations["issued"], "step=certificate_issued"),
        Bar("Enrolled", registrations["enrolled"], "state=enrolled"),
        Bar("Expired", registrations["expired"], "state=expired", "bad"),
        Bar("Cancelled", registrations["cancelled"], "state=cancelled", "bad"),
        Bar("Failed", registrations["failed"], "state=failed", "bad"),
    ]


def alerts(tenant) -> list[Alert]:
    from enrollment.models import CertificateAuthority
    from users.models.ldap import LdapConnector, LdapSyncStatus

    now = timezone.now()
    found: list[Alert] = []
    ca = CertificateAuthority.objects.for_tenant(tenant).filter(is_active=True).first()
    if ca is None:
        found.append(Alert("bad", "No certificate authority: devices cannot enroll.", "ca"))
    elif ca.not_after - now < EXPIRY_WARNING:
        found.append(Alert("warn", f"The CA expires on {ca.not_after:%Y-%m-%d}.", "ca"))
    from devices.models import ApnsCertificate
    from enrollment.models import AndroidEnterprise

    apns = ApnsCertificate.objects.for_tenant(tenant).order_by("-uploaded_at").first()
    if apns is None:
        found.append(Alert("warn", "No APNs certificate: Apple devices cannot be pushed to.",
                           "push-apns"))
    elif apns.not_after <= now:
        found.append(Alert("bad", f"The APNs certificate expired on {apns.not_after:%Y-%m-%d}: "
                                  "Apple devices no longer receive commands.", "push-apns"))
    elif apns.not_after - now < EXPIRY_WARNING:
        found.append(Alert("warn", f"The APNs certificate expires on {apns.not_after:%Y-%m-%d}."
                                   " Renew it with the same Apple ID.", "push-apns"))
    android = AndroidEnterprise.objects.for_tenant(tenant).first()
    if android is None or not android.enterprise_name:
        found.append(Alert("warn", "Android Enterprise is not bound: Android devices cannot "
                                   "register.", "android-settings"))
    ldap = LdapConnector.objects.for_tenant(tenant).filter(is_enabled=True).first()
    if ldap is not None and ldap.last_sync_status == LdapSyncStatus.FAILED:
        found.append(Alert("bad", f"The LDAP directory sync is failing: "
                                  f"{ldap.last_sync_error[:120]}", "ldap"))
    return found


def chart_scale(bars: list[Bar]) -> int:
    return max([bar.count for bar in bars] + [1])
