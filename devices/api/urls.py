"""/api/v1/ routes of the devices app."""

from core.api.routers import api_router
from devices.api.android import AndroidDeviceViewSet, AndroidEnterpriseViewSet
from devices.api.push import (
    ApnsCertificateRequestViewSet,
    ApnsCertificateViewSet,
    AppPushCredentialsViewSet,
    MdmVendorCertificateViewSet,
    PushAttemptViewSet,
    ReminderPolicyViewSet,
)
from devices.api.views import AppleMdmSettingsViewSet, DeviceViewSet, IdentityRenewalViewSet

router = api_router()
router.register("devices", DeviceViewSet, basename="device")
router.register("identity-renewals", IdentityRenewalViewSet, basename="identity-renewal")
router.register("apple-mdm-settings", AppleMdmSettingsViewSet, basename="apple-mdm-settings")
router.register("android-devices", AndroidDeviceViewSet, basename="android-device")
router.register("android-enterprise", AndroidEnterpriseViewSet, basename="android-enterprise")
router.register("apns-certificate", ApnsCertificateViewSet, basename="apns-certificate")
router.register("apns-certificate-requests", ApnsCertificateRequestViewSet,
                basename="apns-certificate-request")
router.register("mdm-vendor-certificate", MdmVendorCertificateViewSet,
                basename="mdm-vendor-certificate")
router.register("app-push-credentials", AppPushCredentialsViewSet,
                basename="app-push-credentials")
router.register("reminder-policy", ReminderPolicyViewSet, basename="reminder-policy")
router.register("push-attempts", PushAttemptViewSet, basename="push-attempt")
urlpatterns = router.urls
