"""FilterSets shared by the portal lists and the API."""

import django_filters
from django.db.models import Q

from core.filters import IdFilter, StableOrderingFilter, UTCDateTimeFilter
from core.platforms import Platform
from devices.models import Command, CommandStatus, Device, DeviceState


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
    ordering = StableOrderingFilter(fields=(
        ("name", "name"), ("platform", "platform"), ("state", "state"),
        ("os_version", "os_version"), ("enrolled_at", "enrolled"),
        ("last_seen_at", "last_seen")))

    class Meta:
        model = Device
        fields = ["platform", "state", "owner", "q", "os_version", "seen_since",
                  "not_seen_since"]

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
