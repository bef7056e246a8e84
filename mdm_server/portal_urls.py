"""The admin portal ("portal" namespace, /t/<tenant_slug>/admin/): each app's pages."""

from audit.urls import portal_patterns as audit_patterns
from devices.urls import portal_patterns as devices_patterns
from enrollment.urls import portal_patterns as enrollment_patterns
from profiles.urls import portal_patterns as profiles_patterns
from users.urls import portal_patterns as users_patterns

app_name = "portal"
urlpatterns = [*users_patterns, *audit_patterns, *enrollment_patterns, *devices_patterns,
               *profiles_patterns]
