from mdm_server.api.viewsets import TenantReadOnlyViewSet

from ..filtersets import AuditEventFilterSet
from ..models import AuditEvent
from .serializers import AuditEventSerializer


class AuditEventViewSet(TenantReadOnlyViewSet):
    """The tenant's audit trail, newest first."""

    queryset = AuditEvent.objects.select_related("actor", "user")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
