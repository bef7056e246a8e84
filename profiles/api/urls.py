"""/api/v1/ routes of the profiles app."""

from core.api.routers import api_router
from profiles.api.views import ConfigurationProfileViewSet

router = api_router()
router.register("configuration-profiles", ConfigurationProfileViewSet,
                basename="configuration-profile")
urlpatterns = router.urls
