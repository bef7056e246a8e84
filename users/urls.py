"""Admin-portal URLs of the users app (mounted under /t/<tenant_slug>/admin/)."""

from django.urls import path

from audit.views import audit_trail

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.admin_login, name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("audit/", audit_trail, name="audit"),
    path("settings/api-tokens/", views.api_tokens, name="api-tokens"),
    path("settings/api-tokens/<int:token_id>/revoke/", views.revoke_api_token,
         name="revoke-api-token"),
]
