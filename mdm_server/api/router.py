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
