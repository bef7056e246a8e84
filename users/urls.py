"""Pages of the users app: sign-in for both portals, Settings > API tokens and > Directory.

`mdm_server/urls.py` mounts `portal_patterns` under /t/<tenant_slug>/admin/ ("portal"
namespace) and `selfservice_patterns` under /t/<tenant_slug>/portal/ ("selfservice").
"""

from django.urls import path

from users import views
from users.ldap import views as ldap_views

portal_patterns = [
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

selfservice_patterns = [
    path("login/", views.selfservice_login, name="login"),
    path("login/password/", views.change_temporary_password, name="password-change"),
    path("logout/", views.sign_out, name="logout"),
]
