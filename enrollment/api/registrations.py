"""API: registrations (start one for a user, list, read, cancel)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import Conflict
from core.api.schema import StrictJsonInput
from core.api.viewsets import TenantScopedMixin
from core.origin import Origin
from core.platforms import Platform
from enrollment.filtersets import RegistrationFilterSet
from enrollment.models import Registration, RegistrationMethod
from enrollment.services.registration_journey import StartResult, start_registration
from enrollment.services.registrations import do_cancel_registration
from users.models import User


class RegistrationSerializer(serializers.ModelSerializer):
    user_email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Registration
        fields = ["id", "user", "user_email", "platform", "method", "state", "expires_at",
                  "device", "failure_reason", "created_at", "profile_downloaded_at",
                  "certificate_issued_at", "enrolled_at", "ended_at"]
        read_only_fields = fields


class StartedRegistrationSerializer(RegistrationSerializer):
    go_url = serializers.URLField()
    profile_url = serializers.URLField(allow_null=True,
                                       help_text="One-time enrollment profile URL (Apple).")
    pin = serializers.CharField(allow_null=True, help_text="One-time PIN, when one applies.")
    android_enrollment_token = serializers.CharField(
        allow_null=True, help_text="Android: AMAPI enrollment token value (work-profile link, "
                                   "in-app enrollment).")
    android_qr_payload = serializers.CharField(
        allow_null=True, help_text="Android: QR provisioning payload (JSON) for a factory-reset "
                                   "device (Android 7+).")

    class Meta(RegistrationSerializer.Meta):
        fields = [*RegistrationSerializer.Meta.fields, "go_url", "profile_url", "pin",
                  "android_enrollment_token", "android_qr_payload"]
        read_only_fields = fields


class StartRegistrationSerializer(StrictJsonInput, serializers.Serializer):
    user = serializers.IntegerField(min_value=1)
    platform = serializers.ChoiceField(choices=Platform.choices)


def started_payload(result: StartResult) -> dict:
    return {**RegistrationSerializer(result.registration).data, "go_url": result.go_url,
            "profile_url": result.profile_url, "pin": result.pin,
            "android_enrollment_token": result.android_enrollment_token,
            "android_qr_payload": result.android_qr_payload}


class RegistrationViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    """Registration attempts: one row per user, device platform and attempt."""

    queryset = Registration.objects.select_related("user")
    serializer_class = RegistrationSerializer
    filterset_class = RegistrationFilterSet

    @extend_schema(request=StartRegistrationSerializer,
                   responses={201: StartedRegistrationSerializer,
                              404: OpenApiResponse(description="No such user here."),
                              409: OpenApiResponse(description="The user is disabled.")})
    def create(self, request):
        params = StartRegistrationSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = User.objects.get_in_tenant(self.tenant, pk=params.validated_data["user"])
        if not user.is_active:
            raise Conflict({"user": ["This user is disabled."]})
        result = start_registration(self.tenant, user, params.validated_data["platform"],
                                    RegistrationMethod.API, actor=self.actor,
                                    origin=Origin.of(request), issue_pin=True)
        return Response(started_payload(result), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: RegistrationSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        registration = self.get_object()
        do_cancel_registration(registration, actor=self.actor, origin=Origin.of(request))
        registration.refresh_from_db()
        return Response(RegistrationSerializer(registration).data)
