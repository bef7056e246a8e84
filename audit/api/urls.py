"""/api/v1/ routes of the audit app."""

from audit.api.views import AuditEventViewSet
from core.api.routers import api_router

router = api_router()
router.register("audit-events", AuditEventViewSet, basename="audit-event")
urlpatterns = router.urls
