"""Admin-portal URLs of the enrollment app."""

from django.urls import path

from . import views

portal_patterns = [
    path("registrations/", views.registration_list, name="registrations"),
    path("settings/ca/", views.certificate_authority, name="ca"),
    path("settings/ca/<int:ca_id>/certificate.pem", views.download_ca_certificate,
         name="ca-download"),
    path("certificates/", views.certificate_list, name="certificates"),
    path("certificates/<int:certificate_id>/revoke/", views.revoke_certificate,
         name="revoke-certificate"),
]

# Settings > Registration (invitations, PINs, registration URL)
from .views_registration_settings import registration_settings  # noqa: E402

portal_patterns += [
    path("settings/registration/", registration_settings, name="registration-settings"),
]

# Settings > Android (Android Enterprise binding) and Android device actions
from devices.android.views import android_device_action  # noqa: E402

from .android.views import android_settings, android_signup_callback  # noqa: E402

portal_patterns += [
    path("settings/android/", android_settings, name="android-settings"),
    path("settings/android/callback/", android_signup_callback, name="android-callback"),
    path("devices/<int:device_id>/android/", android_device_action,
         name="android-device-action"),
]
