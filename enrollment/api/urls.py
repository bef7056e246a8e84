"""/api/v1/ routes of the enrollment app. Included before the portal's, so that
`users/<id>/invitations/` wins over the users viewset."""

from django.urls import path

from core.api.routers import api_router
from enrollment.api.invitations import (
    InvitationViewSet,
    RegistrationLinkViewSet,
    RegistrationPolicyViewSet,
    UserInvitationViewSet,
)
from enrollment.api.managed_domains import ManagedDomainViewSet
from enrollment.api.registrations import RegistrationViewSet
from enrollment.api.renewal_policy import IdentityRenewalPolicyViewSet
from enrollment.api.views import (
    CertificateAuthorityViewSet,
    ChallengeViewSet,
    IssuedCertificateViewSet,
)

router = api_router()
router.register("certificate-authorities", CertificateAuthorityViewSet,
                basename="certificate-authority")
router.register("certificates", IssuedCertificateViewSet, basename="certificate")
router.register("scep-challenges", ChallengeViewSet, basename="scep-challenge")
router.register("registrations", RegistrationViewSet, basename="registration")
router.register("managed-domains", ManagedDomainViewSet, basename="managed-domain")

urlpatterns = [
    path("registration-policy/",
         RegistrationPolicyViewSet.as_view({"get": "show", "put": "replace", "patch": "replace"}),
         name="registration-policy"),
    path("identity-renewal-policy/",
         IdentityRenewalPolicyViewSet.as_view({"get": "show", "put": "replace",
                                               "patch": "replace"}),
         name="identity-renewal-policy"),
    path("registration-links/",
         RegistrationLinkViewSet.as_view({"get": "list", "post": "create"}),
         name="registration-link-list"),
    path("invitations/", InvitationViewSet.as_view({"get": "list"}), name="invitation-list"),
    path("invitations/<int:pk>/", InvitationViewSet.as_view({"get": "retrieve"}),
         name="invitation-detail"),
    path("users/<int:user_id>/invitations/",
         UserInvitationViewSet.as_view({"post": "create"}), name="user-invitations"),
]
urlpatterns += router.urls
