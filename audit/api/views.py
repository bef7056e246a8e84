from audit.api.serializers import AuditEventSerializer
from audit.filtersets import AuditEventFilterSet
from audit.models import AuditEvent
from core.api.viewsets import TenantReadOnlyViewSet


class AuditEventViewSet(TenantReadOnlyViewSet):
    """The tenant's audit trail, newest first."""

    queryset = AuditEvent.objects.select_related("actor", "user")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
