"""/api/v1/ routes of the portal app: the users list, which reads devices and invitations."""

from core.api.routers import api_router
from portal.api.users import UserViewSet

router = api_router()
router.register("users", UserViewSet, basename="user")
urlpatterns = router.urls
