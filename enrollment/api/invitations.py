"""API: the registration policy (singleton), registration URLs, invitations.

GET/PUT /api/v1/registration-policy/, GET/POST /api/v1/registration-links/,
POST /api/v1/users/{id}/invitations/ -> {url, expires_at, pin?},
GET /api/v1/invitations/?user=&status= (and /invitations/{id}/).
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.api.errors import error_response
from core.api.schema import StrictJsonInput
from core.api.viewsets import TenantScopedMixin
from core.filters import IdFilter
from core.origin import Origin
from enrollment.models import (
    CURRENT_LINK_FORMAT,
    Invitation,
    InvitationStatus,
    RegistrationLink,
    RegistrationPolicy,
)
from enrollment.services.invitations import InvitationError, do_send_invitations
from enrollment.services.links import do_generate_link, go_url, live_link
from enrollment.services.policies import do_save_registration_policy, policy_for
from users.models import User


class RegistrationPolicySerializer(StrictJsonInput, serializers.ModelSerializer):
    link_format_version = serializers.SerializerMethodField()
    registration_url = serializers.SerializerMethodField()

    class Meta:
        model = RegistrationPolicy
        fields = ["pin_requirement", "pin_length", "pin_validity_hours", "pin_max_attempts",
                  "invitation_validity_days", "email_temporary_password", "updated_at",
                  "link_format_version", "registration_url"]
        read_only_fields = ["updated_at"]

    def get_link_format_version(self, policy) -> int:
        return CURRENT_LINK_FORMAT

    def get_registration_url(self, policy) -> str | None:
        link = live_link(policy.tenant)
        return go_url(link) if link is not None and link.is_current else None


class RegistrationLinkSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    is_current = serializers.BooleanField(read_only=True)

    class Meta:
        model = RegistrationLink
        fields = ["id", "format_version", "url", "is_current", "created_at", "revoked_at"]
        read_only_fields = fields

    def get_url(self, link) -> str:
        return go_url(link)


class InvitationSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    has_pin = serializers.SerializerMethodField()
    sent_by = serializers.CharField(source="sent_by_label", read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "user", "email", "status", "channel", "has_pin", "sent_by", "created_at",
                  "sent_at", "opened_at", "used_at", "expired_at", "revoked_at", "expires_at"]
        read_only_fields = fields

    def get_has_pin(self, invitation) -> bool:
        return invitation.pin_id is not None


class SentInvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.IntegerField()
    url = serializers.URLField(help_text="The registration URL ending in /go (shown once).")
    expires_at = serializers.DateTimeField()
    pin = serializers.CharField(allow_null=True, help_text="The one-time PIN, when one applies.")


class InvitationFilterSet(django_filters.FilterSet):
    user = IdFilter(field_name="user_id")
    status = django_filters.ChoiceFilter(choices=InvitationStatus.choices)

    class Meta:
        model = Invitation
        fields = ["user", "status"]


class RegistrationPolicyViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """The tenant's registration policy (one per tenant, defaults until saved)."""

    queryset = RegistrationPolicy.objects.all()
    serializer_class = RegistrationPolicySerializer
    pagination_class = None

    def get_object(self) -> RegistrationPolicy:
        return policy_for(self.tenant)

    @extend_schema(responses={200: RegistrationPolicySerializer})
    def show(self, request):
        return Response(RegistrationPolicySerializer(self.get_object()).data)

    @extend_schema(request=RegistrationPolicySerializer,
                   responses={200: RegistrationPolicySerializer})
    def replace(self, request):
        params = RegistrationPolicySerializer(self.get_object(), data=request.data,
                                              partial=True)
        params.is_valid(raise_exception=True)
        policy = do_save_registration_policy(self.tenant, params.validated_data,
                                             actor=self.actor, origin=Origin.of(request))
        return Response(RegistrationPolicySerializer(policy).data)


class RegistrationLinkViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Registration URLs; POST generates a new one and revokes the previous one (S4)."""

    queryset = RegistrationLink.objects.all()
    serializer_class = RegistrationLinkSerializer

    @extend_schema(request=None, responses={201: RegistrationLinkSerializer})
    def create(self, request):
        link = do_generate_link(self.tenant, actor=self.actor, origin=Origin.of(request))
        return Response(RegistrationLinkSerializer(link).data, status=status.HTTP_201_CREATED)


class InvitationViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    """Invitations sent, with their status (sent, opened, used, expired, replaced)."""

    queryset = Invitation.objects.select_related("user")
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilterSet


class UserInvitationViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """Send (or resend) one user's invitation; a resend invalidates the old link and PIN."""

    queryset = User.objects.all()
    serializer_class = SentInvitationSerializer
    pagination_class = None

    @extend_schema(request=None, responses={
        201: SentInvitationSerializer,
        409: OpenApiResponse(description="The user cannot be invited (disabled).")})
    def create(self, request, user_id: int):
        user = User.objects.get_in_tenant(self.tenant, pk=user_id)
        try:
            sent = do_send_invitations(self.tenant, [user], actor=self.actor,
                                       origin=Origin.of(request))[0]
        except InvitationError as exc:
            return error_response("conflict", str(exc), status.HTTP_409_CONFLICT)
        return Response({"id": sent.invitation.pk, "user": user.pk, "url": sent.url,
                         "expires_at": sent.expires_at, "pin": sent.pin},
                        status=status.HTTP_201_CREATED)
