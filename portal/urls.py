"""Pages of the portal app: the dashboard, the setup wizard, the Users pages and the end user's
self-service home (mounted by `mdm_server/urls.py` in the "portal" and "selfservice"
namespaces)."""

from django.urls import path

from portal.views import dashboard, selfservice, users, wizard

portal_patterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("setup/", wizard.wizard, name="setup"),
    path("setup/<slug:step>/", wizard.wizard, name="setup-step"),
    path("users/", users.user_list, name="users"),
    path("users/add/", users.user_add, name="user-add"),
    path("users/import/", users.user_import, name="user-import"),
    path("users/bulk/", users.user_bulk_action, name="user-bulk"),
    path("users/<int:user_id>/", users.user_detail, name="user-detail"),
]

selfservice_patterns = [
    path("", selfservice.selfservice_home, name="home"),
]
