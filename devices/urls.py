"""Admin-portal URLs of the devices app."""

from django.urls import path

from . import views

portal_patterns = [
    path("devices/", views.device_list, name="devices"),
    path("devices/<int:device_id>/", views.device_detail, name="device"),
    path("devices/bulk/", views.device_bulk_action, name="device-bulk"),
    path("devices/<int:device_id>/actions/", views.device_action, name="device-action"),
    path("settings/apple-mdm/", views.apple_mdm_settings, name="apple-settings"),
]

# pushes and reminders (Settings)
from . import views_push  # noqa: E402

portal_patterns += [
    path("settings/apns/", views_push.apns_settings, name="push-apns"),
    path("settings/app-push/", views_push.app_push_settings, name="push-app"),
    path("settings/reminders/", views_push.reminder_settings, name="push-reminders"),
]
