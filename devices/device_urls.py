"""Endpoints Apple devices call (mounted under /t/<tenant_slug>/): the enrollment profile
download, MDM check-in and the command ServerURL."""

from django.urls import path

from enrollment.apple.views import enrollment_profile

from .apple import views

urlpatterns = [
    path("enroll/apple/<str:token>.mobileconfig", enrollment_profile,
         name="apple-enrollment-profile"),
    path("mdm/checkin", views.checkin, name="apple-mdm-checkin"),
    path("mdm/server", views.server, name="apple-mdm-server"),
]
