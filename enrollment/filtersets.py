"""FilterSets shared by the portal lists and the API."""

import datetime as dt

import django_filters
from django.db.models import Q
from django.utils import timezone

from core.filters import BooleanFilter, IdFilter
from core.platforms import Platform
from enrollment.models import (
    CertificateAuthority,
    IssuedCertificate,
    Registration,
    RegistrationMethod,
    RegistrationState,
)


class CertificateAuthorityFilterSet(django_filters.FilterSet):
    is_active = BooleanFilter()

    class Meta:
        model = CertificateAuthority
        fields = ["is_active"]


class IssuedCertificateFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="common_name", lookup_expr="icontains",
                                  label="Common name")
    serial = django_filters.CharFilter(field_name="serial_hex", lookup_expr="istartswith")
    revoked = BooleanFilter(field_name="revoked_at", lookup_expr="isnull",
                                           exclude=True, label="Revoked")
    device = IdFilter(field_name="device_id")

    class Meta:
        model = IssuedCertificate
        fields = ["q", "serial", "revoked", "device"]


# The periods the dashboard's registration funnel offers (days: button label).
FUNNEL_PERIODS = {7: "7 days", 30: "30 days", 90: "90 days"}
# Registration steps, each with the timestamp it was reached at (`<step>_at`).
REGISTRATION_STEPS = [("profile_downloaded", "Profile downloaded"),
                      ("certificate_issued", "Certificate issued"), ("enrolled", "Enrolled")]


def period_start(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def in_period(since: dt.datetime, step: str | None = None) -> Q:
    """Registrations that reached `step` since `since`, or without a step, that started since
    then. One definition for the dashboard's funnel bars and the list each bar opens, so the
    list shows exactly the registrations its bar counts."""
    return Q(**{f"{step or 'created'}_at__gte": since})


class RegistrationFilterSet(django_filters.FilterSet):
    user = IdFilter(field_name="user_id")
    state = django_filters.ChoiceFilter(choices=RegistrationState.choices)
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    method = django_filters.ChoiceFilter(choices=RegistrationMethod.choices)
    step = django_filters.ChoiceFilter(method="reached_step", label="Reached step",
                                       choices=REGISTRATION_STEPS)
    days = django_filters.ChoiceFilter(
        method="in_last_days", label="Period", empty_label="Any time",
        choices=[(str(days), f"Last {label}") for days, label in FUNNEL_PERIODS.items()],
        help_text="With a step: reached it in the period; without: started in the period.")

    class Meta:
        model = Registration
        fields = ["user", "state", "platform", "method", "step", "days"]

    def reached_step(self, queryset, name, value):
        return queryset.filter(**{f"{value}_at__isnull": False})

    def in_last_days(self, queryset, name, value):
        return queryset.filter(in_period(period_start(int(value)),
                                         self.form.cleaned_data.get("step") or None))
