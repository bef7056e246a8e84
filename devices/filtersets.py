"""FilterSets shared by the portal lists and the API."""

import datetime as dt

import django_filters
from django.db.models import Q
from django.utils import timezone

from core.filters import IdFilter, StableOrderingFilter, UTCDateTimeFilter
from core.platforms import Platform
from devices.models import (
    Command,
    CommandStatus,
    Device,
    DeviceState,
    IdentityRenewal,
    RenewalReason,
    RenewalState,
)

IDENTITY_EXPIRY_CHOICES = [("expired", "Expired"), ("30", "Within 30 days"),
                           ("60", "Within 60 days"), ("90", "Within 90 days")]


def identity_expiry_filter(value: str, now: dt.datetime | None = None) -> Q:
    """Devices whose MDM identity has expired, or expires within 30, 60 or 90 days (and has
    not yet): the dashboard's figures and the Devices filter read the same condition."""
    now = now or timezone.now()
    if value == "expired":
        return Q(identity_expires_at__lte=now)
    return Q(identity_expires_at__gt=now,
             identity_expires_at__lte=now + dt.timedelta(days=int(value)))


class DeviceFilterSet(django_filters.FilterSet):
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    state = django_filters.ChoiceFilter(choices=DeviceState.choices)
    owner = IdFilter(field_name="owner_id", label="Owner id")
    q = django_filters.CharFilter(method="search", label="Search")
    os_version = django_filters.CharFilter(field_name="os_version", lookup_expr="startswith",
                                           label="OS version")
    seen_since = UTCDateTimeFilter(field_name="last_seen_at", lookup_expr="gte",
                                   label="Last seen since")
    not_seen_since = UTCDateTimeFilter(field_name="last_seen_at", lookup_expr="lt",
                                       label="Not seen since")
    identity_expires = django_filters.ChoiceFilter(
        choices=IDENTITY_EXPIRY_CHOICES, method="identity_expiring",
        label="MDM identity expires")
    ordering = StableOrderingFilter(fields=(
        ("name", "name"), ("platform", "platform"), ("state", "state"),
        ("os_version", "os_version"), ("enrolled_at", "enrolled"),
        ("last_seen_at", "last_seen")))

    class Meta:
        model = Device
        fields = ["platform", "state", "owner", "q", "os_version", "seen_since",
                  "not_seen_since", "identity_expires"]

    def identity_expiring(self, queryset, name, value):
        return queryset.filter(identity_expiry_filter(value)) if value else queryset

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(serial_number__icontains=value)
                               | Q(udid__icontains=value) | Q(owner__email__icontains=value))


class CommandFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CommandStatus.choices)
    request_type = django_filters.CharFilter()

    class Meta:
        model = Command
        fields = ["status", "request_type"]


class IdentityRenewalFilterSet(django_filters.FilterSet):
    device = IdFilter(field_name="device_id", label="Device id")
    state = django_filters.ChoiceFilter(choices=RenewalState.choices)
    reason = django_filters.ChoiceFilter(choices=RenewalReason.choices)

    class Meta:
        model = IdentityRenewal
        fields = ["device", "state", "reason"]
