"""One FilterSet for users: the portal Users page and the API."""

import django_filters
from django.db.models import Exists, OuterRef, Q

from core.filters import BooleanFilter
from devices.models import Device, DeviceState
from users.models import User, UserRole, UserSource


def with_registered(queryset):
    """Annotate `is_registered`: the user owns an active device (one EXISTS subquery)."""
    active = Device.objects.filter(owner=OuterRef("pk"), state=DeviceState.ACTIVE)
    return queryset.annotate(is_registered=Exists(active))


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    source = django_filters.ChoiceFilter(choices=UserSource.choices)
    role = django_filters.ChoiceFilter(choices=UserRole.choices)
    registered = BooleanFilter(field_name="is_registered", label="Registered")
    is_active = BooleanFilter(label="Active")

    class Meta:
        model = User
        fields = ["q", "source", "role", "registered", "is_active"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(email__icontains=value) | Q(first_name__icontains=value)
                               | Q(last_name__icontains=value))
