"""Pages and endpoints of the devices app; `mdm_server/urls.py` mounts each list:

- `portal_patterns`: admin portal pages (/t/<tenant_slug>/admin/, "portal" namespace);
- `app_patterns`: the agent app's push-token endpoint (/t/<tenant_slug>/app/v1/);
- `protocol_patterns`: the Apple MDM check-in and server endpoints, first and flat;
- `android_push_patterns`: the Android Management API's Pub/Sub push (/android/).
"""

from django.urls import path

from devices.android.pubsub import pubsub_push
from devices.android.views import android_device_action
from devices.api.push import AppPushTokenView
from devices.apple import views as apple_views
from devices.views import devices, push

portal_patterns = [
    path("devices/", devices.device_list, name="devices"),
    path("devices/<int:device_id>/", devices.device_detail, name="device"),
    path("devices/bulk/", devices.device_bulk_action, name="device-bulk"),
    path("devices/<int:device_id>/actions/", devices.device_action, name="device-action"),
    path("devices/<int:device_id>/android/", android_device_action,
         name="android-device-action"),
    path("settings/apple-mdm/", devices.apple_mdm_settings, name="apple-settings"),
    path("settings/apns/", push.apns_settings, name="push-apns"),
    path("settings/apns/requests/", push.apns_request_create, name="push-apns-request"),
    path("settings/apns/requests/<int:request_id>/PushCertificateRequest.plist",
         push.apns_request_download, {"kind": "plist"}, name="push-apns-request-plist"),
    path("settings/apns/requests/<int:request_id>/PushCertificateRequest.csr",
         push.apns_request_download, {"kind": "csr"}, name="push-apns-request-csr"),
    path("settings/apns/vendor/", push.apns_vendor_certificate, name="push-apns-vendor"),
    path("settings/app-push/", push.app_push_settings, name="push-app"),
    path("settings/reminders/", push.reminder_settings, name="push-reminders"),
]

app_patterns = [
    path("push-token", AppPushTokenView.as_view(), name="app-push-token"),
]

protocol_patterns = [
    path("t/<slug:tenant_slug>/mdm/server", apple_views.server, name="apple-mdm-server"),
    path("t/<slug:tenant_slug>/mdm/checkin", apple_views.checkin, name="apple-mdm-checkin"),
]

android_push_patterns = [
    path("pubsub/<str:endpoint_id>/", pubsub_push, name="pubsub-push"),
]
