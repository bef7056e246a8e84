"""/api/v1/ routes of invitations, registration URLs and the registration policy (included
before the main router, so `users/<id>/invitations/` wins over the users viewset)."""

from django.urls import path

from .invitations import (
    InvitationViewSet,
    RegistrationLinkViewSet,
    RegistrationPolicyViewSet,
    UserInvitationViewSet,
)

urlpatterns = [
    path("registration-policy/",
         RegistrationPolicyViewSet.as_view({"get": "show", "put": "replace", "patch": "replace"}),
         name="registration-policy"),
    path("registration-links/",
         RegistrationLinkViewSet.as_view({"get": "list", "post": "create"}),
         name="registration-link-list"),
    path("invitations/", InvitationViewSet.as_view({"get": "list"}), name="invitation-list"),
    path("invitations/<int:pk>/", InvitationViewSet.as_view({"get": "retrieve"}),
         name="invitation-detail"),
    path("users/<int:user_id>/invitations/",
         UserInvitationViewSet.as_view({"post": "create"}), name="user-invitations"),
]
