"""Admin-portal URLs of the devices app."""

from django.urls import path

from . import views

portal_patterns = [
    path("devices/", views.device_list, name="devices"),
    path("devices/<int:device_id>/", views.device_detail, name="device"),
    path("devices/<int:device_id>/actions/", views.device_action, name="device-action"),
    path("settings/apple-mdm/", views.apple_mdm_settings, name="apple-settings"),
]
