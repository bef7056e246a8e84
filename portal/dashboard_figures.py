"""The admin dashboard's figures: devices by state and platform, the registration funnel over
a period, MDM identities due for renewal, and alerts. A handful of aggregate queries,
whatever the tenant's size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from audit.events import AuditAction
from core.platforms import Platform
from devices.models import ApnsCertificate, Device, DeviceState
from devices.services.renewals import identity_summary
from enrollment.filtersets import in_period, period_start
from enrollment.models import (
    AndroidEnterprise,
    CertificateAuthority,
    Invitation,
    Registration,
    RegistrationState,
)
from users.models.ldap import LdapConnector, LdapSyncStatus

EXPIRY_WARNING = dt.timedelta(days=30)


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    link: str  # query string of the list behind the bar; "" when there is none
    kind: str = ""  # css class: "", "bad"


@dataclass(frozen=True)
class Figure:
    label: str
    count: int
    page: str = ""   # portal URL name of the list behind the figure; "" when there is none
    query: str = ""  # its query string
    kind: str = ""   # css class: "", "bad"


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
    """The funnel over the last `days`. Each registration bar links to the registrations list
    with the same period and step (or state): the same filter (`in_period`), the same count.
    The invitation bars have no list to open, so they link nowhere."""
    since = period_start(days)
    invitations = Invitation.objects.for_tenant(tenant).aggregate(
        invited=Count("id", filter=Q(created_at__gte=since)),
        opened=Count("id", filter=Q(opened_at__gte=since)),
    )
    steps = {step: Count("id", filter=in_period(since, step))
             for step in ("profile_downloaded", "certificate_issued", "enrolled")}
    ended = {state: Count("id", filter=in_period(since) & Q(state=state))
             for state in (RegistrationState.EXPIRED, RegistrationState.CANCELLED,
                           RegistrationState.FAILED)}
    counts = Registration.objects.for_tenant(tenant).aggregate(**steps, **ended)
    period = f"days={days}"
    return [
        Bar("Invited", invitations["invited"], ""),
        Bar("Link opened", invitations["opened"], ""),
        Bar("Profile downloaded / token used", counts["profile_downloaded"],
            f"step=profile_downloaded&{period}"),
        Bar("Certificate issued (SCEP)", counts["certificate_issued"],
            f"step=certificate_issued&{period}"),
        Bar("Enrolled", counts["enrolled"], f"step=enrolled&{period}"),
        *[Bar(state.label, counts[state], f"state={state.value}&{period}", "bad")
          for state in ended],
    ]


def identity_figures(tenant) -> list[Figure]:
    """Managed Apple devices' MDM identities: expired and expiring within 30/60/90 days (each
    opens the Devices page with the same filter on active devices, hence the same count),
    renewals waiting for their device, and renewals that failed in the last 7 days (the audit
    trail's failures since then). Two queries (`identity_summary`)."""
    now = timezone.now()
    summary = identity_summary(tenant, now=now)
    failed_since = (now - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        Figure("expired", summary.expired, "devices", "identity_expires=expired&state=active",
               "bad" if summary.expired else ""),
        *[Figure(f"expire within {days} days", count, "devices",
                 f"identity_expires={days}&state=active")
          for days, count in ((30, summary.within_30), (60, summary.within_60),
                              (90, summary.within_90))],
        Figure("renewals waiting for their device", summary.renewing),
        Figure("renewals failed in the last 7 days", summary.failed_recently, "audit",
               f"action={AuditAction.IDENTITY_RENEWAL_FAILED.value}&since={failed_since}",
               "bad" if summary.failed_recently else ""),
    ]


def alerts(tenant) -> list[Alert]:
    now = timezone.now()
    found: list[Alert] = []
    ca = CertificateAuthority.objects.for_tenant(tenant).filter(is_active=True).first()
    if ca is None:
        found.append(Alert("bad", "No certificate authority: devices cannot enroll.", "ca"))
    elif ca.not_after - now < EXPIRY_WARNING:
        found.append(Alert("warn", f"The CA expires on {ca.not_after:%Y-%m-%d}.", "ca"))
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
