"""Pages of the profiles app (mounted under /t/<tenant_slug>/admin/, "portal" namespace)."""

from django.urls import path

from profiles import views

portal_patterns = [
    path("profiles/", views.profile_list, name="profiles"),
    path("profiles/new/", views.profile_edit, name="profile-create"),
    path("profiles/<int:profile_id>/", views.profile_edit, name="profile-edit"),
    path("profiles/<int:profile_id>/delete/", views.profile_delete, name="profile-delete"),
]
