"""The enrollment profile download Apple devices fetch (mounted under /t/<tenant_slug>/).

The MDM check-in, ServerURL and SCEP endpoints are in ``mdm_server.urls``
(``device_protocol_patterns``): first and flat, because devices call them all day.
"""

from django.urls import path

from enrollment.apple.views import enrollment_profile

urlpatterns = [
    path("enroll/apple/<str:token>.mobileconfig", enrollment_profile,
         name="apple-enrollment-profile"),
]
