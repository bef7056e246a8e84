"""One FilterSet for the audit trail: used by the portal page and the API alike."""

import django_filters

from audit.events import AuditAction
from audit.models import AuditEvent
from core.filters import IdFilter, UTCDateTimeFilter


class AuditEventFilterSet(django_filters.FilterSet):
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    user = IdFilter(field_name="user_id", label="User id")
    user_email = django_filters.CharFilter(field_name="user__email", lookup_expr="icontains",
                                           label="User email")
    device = IdFilter(field_name="device_id", label="Device id")
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "user", "user_email", "device", "since", "until"]
