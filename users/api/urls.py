"""/api/v1/ routes of the users app."""

from core.api.routers import api_router
from users.api.views import LdapConnectorViewSet

router = api_router()
router.register("ldap-connector", LdapConnectorViewSet, basename="ldap-connector")
urlpatterns = router.urls
