"""The /api/v1/ router: each app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from audit.api.views import AuditEventViewSet
from enrollment.api.views import (
    CertificateAuthorityViewSet,
    ChallengeViewSet,
    IssuedCertificateViewSet,
)
from users.api.views import LdapConnectorViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("certificate-authorities", CertificateAuthorityViewSet,
                basename="certificate-authority")
router.register("certificates", IssuedCertificateViewSet, basename="certificate")
router.register("scep-challenges", ChallengeViewSet, basename="scep-challenge")
router.register("ldap-connector", LdapConnectorViewSet, basename="ldap-connector")

# devices and configuration profiles (Apple MDM)
from devices.api.views import AppleMdmSettingsViewSet, DeviceViewSet  # noqa: E402
from profiles.api.views import ConfigurationProfileViewSet  # noqa: E402

router.register("devices", DeviceViewSet, basename="device")
router.register("apple-mdm-settings", AppleMdmSettingsViewSet, basename="apple-mdm-settings")
router.register("configuration-profiles", ConfigurationProfileViewSet,
                basename="configuration-profile")

# users and registrations
from users.api.people import UserViewSet  # noqa: E402

router.register("users", UserViewSet, basename="user")
from enrollment.api.registrations import RegistrationViewSet  # noqa: E402

router.register("registrations", RegistrationViewSet, basename="registration")

# Android Enterprise: devices (actions, commands) and the tenant's enterprise binding
from devices.android.api import AndroidDeviceViewSet, AndroidEnterpriseViewSet  # noqa: E402

router.register("android-devices", AndroidDeviceViewSet, basename="android-device")
router.register("android-enterprise", AndroidEnterpriseViewSet, basename="android-enterprise")

# pushes, app push credentials, reminder cadence (workers)
from devices.api.push import (  # noqa: E402
    ApnsCertificateViewSet,
    AppPushCredentialsViewSet,
    PushAttemptViewSet,
    ReminderPolicyViewSet,
)

router.register("apns-certificate", ApnsCertificateViewSet, basename="apns-certificate")
router.register("app-push-credentials", AppPushCredentialsViewSet,
                basename="app-push-credentials")
router.register("reminder-policy", ReminderPolicyViewSet, basename="reminder-policy")
router.register("push-attempts", PushAttemptViewSet, basename="push-attempt")
