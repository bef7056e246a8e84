"""Admin-portal URLs of the users app (mounted under /t/<tenant_slug>/admin/)."""

from django.urls import path

from . import views, views_users, wizard
from .ldap import views as ldap_views

portal_patterns = [
    path("setup/", wizard.wizard, name="setup"),
    path("setup/<slug:step>/", wizard.wizard, name="setup-step"),
    path("users/", views_users.user_list, name="users"),
    path("users/add/", views_users.user_add, name="user-add"),
    path("users/import/", views_users.user_import, name="user-import"),
    path("users/bulk/", views_users.user_bulk_action, name="user-bulk"),
    path("users/<int:user_id>/", views_users.user_detail, name="user-detail"),
    path("", views.dashboard, name="dashboard"),
    path("login/", views.admin_login, name="login"),
    path("login/password/", views.change_temporary_password, name="password-change"),
    path("logout/", views.sign_out, name="logout"),
    path("settings/api-tokens/", views.api_tokens, name="api-tokens"),
    path("settings/api-tokens/<int:token_id>/revoke/", views.revoke_api_token,
         name="revoke-api-token"),
    path("settings/directory/", ldap_views.ldap_connector, name="ldap"),
    path("settings/directory/test/", ldap_views.ldap_test, name="ldap-test"),
    path("settings/directory/sync/", ldap_views.ldap_sync, name="ldap-sync"),
]
