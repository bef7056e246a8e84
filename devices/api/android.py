"""API: Android devices (Google's view, admin actions, commands and their operations) and the
tenant's Android Enterprise (settings, binding)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import error_response
from core.api.schema import StrictJsonInput
from core.api.viewsets import TenantReadOnlyViewSet, TenantScopedMixin
from core.origin import Origin
from devices.android import actions
from devices.api.serializers import DeviceSerializer
from devices.filtersets import DeviceFilterSet
from devices.models import AndroidDevice, AndroidOperation, Device
from enrollment.android.amapi import AmapiError
from enrollment.android.binding import (
    AndroidSetupError,
    apply_enterprise_configuration,
    do_save_android_settings,
    enterprise_for,
    parse_service_account,
    start_signup,
    unbind,
)
from enrollment.models import AndroidEnterprise, AndroidOwnership


class AndroidInfoSerializer(serializers.ModelSerializer):
    class Meta:
        model = AndroidDevice
        fields = ["amapi_name", "amapi_state", "applied_state", "management_mode", "ownership",
                  "android_version", "api_level", "security_patch_level",
                  "enterprise_specific_id", "previous_device_names", "policy_name",
                  "applied_policy_name", "policy_compliant", "enrollment_time",
                  "last_status_report_time", "removed_at"]
        read_only_fields = fields


class AndroidDeviceSerializer(DeviceSerializer):
    android = AndroidInfoSerializer(read_only=True)

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "android"]
        read_only_fields = fields


class AndroidOperationSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by_label", read_only=True)

    class Meta:
        model = AndroidOperation
        fields = ["id", "name", "command_type", "status", "error", "created_by", "created_at",
                  "expires_at", "completed_at"]
        read_only_fields = fields


class AndroidCommandSerializer(StrictJsonInput, serializers.Serializer):
    type = serializers.ChoiceField(choices=list(actions.COMMAND_TYPES))
    new_password = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                         help_text="RESET_PASSWORD: the new password (empty "
                                                   "clears it).")


class ReregisteredSerializer(serializers.Serializer):
    registration_id = serializers.IntegerField()
    android_enrollment_token = serializers.CharField(allow_null=True)
    android_qr_payload = serializers.CharField(allow_null=True)


def _refused(exc: Exception):
    """The action does not apply now (the device's or the enterprise's state): 409; Google
    refused or failed: 502, whatever Google's own status (our call, not the client's, was
    refused)."""
    if isinstance(exc, AmapiError):
        return error_response("google_error", str(exc), status.HTTP_502_BAD_GATEWAY)
    return error_response("conflict", str(exc), status.HTTP_409_CONFLICT)


REFUSED = {409: OpenApiResponse(description="Does not apply in the current state (the "
                                            "message says why)."),
           502: OpenApiResponse(description="Google refused or failed; nothing changed here.")}


def android_retire_response(tenant, device, *, actor, origin) -> Response:
    """POST /devices/<id>/retire/ for an Android device (the generic devices API)."""
    try:
        actions.retire(tenant, device, actor=actor, origin=origin)
    except (actions.AndroidActionRefused, AndroidSetupError, AmapiError) as exc:
        return _refused(exc)
    device.refresh_from_db()
    return Response(DeviceSerializer(device).data)


class AndroidDeviceViewSet(TenantReadOnlyViewSet):
    """Android Enterprise devices with Google's view of them, and the admin actions (S20)."""

    queryset = (Device.objects.filter(platform="android")
                .select_related("owner", "android__enterprise"))
    serializer_class = AndroidDeviceSerializer
    filterset_class = DeviceFilterSet

    def _do(self, request, func, **kwargs) -> Response:
        device = self.get_object()
        try:
            func(self.tenant, device, actor=self.actor, origin=Origin.of(request), **kwargs)
        except (actions.AndroidActionRefused, AndroidSetupError, AmapiError) as exc:
            return _refused(exc)
        device.refresh_from_db()
        return Response(AndroidDeviceSerializer(device).data)

    @extend_schema(request=None, responses={200: AndroidDeviceSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        """Remove management (work profile) or disable the device (fully managed)."""
        return self._do(request, actions.retire)

    @extend_schema(request=None, responses={200: AndroidDeviceSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def wipe(self, request, pk=None):
        """Company-owned: factory reset (WIPE command). Personal: delete the work profile."""
        return self._do(request, actions.wipe)

    @extend_schema(request=None, responses={204: None, **REFUSED})
    @action(detail=True, methods=["post"], url_path="delete")
    def delete_device(self, request, pk=None):
        """Delete the device on Google and here (the audit trail keeps it)."""
        device = self.get_object()
        try:
            actions.delete(self.tenant, device, actor=self.actor, origin=Origin.of(request))
        except (actions.AndroidActionRefused, AmapiError) as exc:
            return _refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={201: ReregisteredSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def reregister(self, request, pk=None):
        """Start a new registration for the owner; the device shows Reset until it enrolls."""
        device = self.get_object()
        try:
            started = actions.reregister(self.tenant, device, actor=self.actor,
                                         origin=Origin.of(request))
        except (actions.AndroidActionRefused, AndroidSetupError, AmapiError) as exc:
            return _refused(exc)
        return Response({"registration_id": started.registration_id,
                         "android_enrollment_token": started.enrollment_token,
                         "android_qr_payload": started.qr_payload},
                        status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses={200: AndroidOperationSerializer(many=True)},
                   filters=False)
    @extend_schema(methods=["POST"], request=AndroidCommandSerializer,
                   responses={201: AndroidOperationSerializer, **REFUSED})
    @action(detail=True, methods=["get", "post"])
    def commands(self, request, pk=None):
        """Commands sent to the device (lock, reboot, reset password) and their outcome."""
        device = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(AndroidOperation.objects.for_tenant(self.tenant)
                                          .filter(device=device))
            return self.get_paginated_response(AndroidOperationSerializer(page,
                                                                          many=True).data)
        params = AndroidCommandSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            operation = actions.issue_command(
                self.tenant, device, params.validated_data["type"], actor=self.actor,
                origin=Origin.of(request),
                new_password=params.validated_data.get("new_password") or None)
        except (actions.AndroidActionRefused, AmapiError) as exc:
            return _refused(exc)
        return Response(AndroidOperationSerializer(operation).data,
                        status=status.HTTP_201_CREATED)


class AndroidEnterpriseSerializer(StrictJsonInput, serializers.ModelSerializer):
    content_formats = {"service_account_key": "google-service-account-json"}

    is_bound = serializers.BooleanField(read_only=True)
    service_account_key = serializers.CharField(
        write_only=True, required=False,
        help_text="The service-account key file's JSON (stored encrypted, never returned).")

    class Meta:
        model = AndroidEnterprise
        fields = ["project_id", "service_account_email", "service_account_key",
                  "enterprise_name", "display_name", "is_bound", "pubsub_topic",
                  "enabled_notification_types", "default_ownership", "agent_app_package",
                  "default_policy_name", "company_policy_name", "bound_at", "last_error",
                  "last_reconciled_at"]
        read_only_fields = ["service_account_email", "enterprise_name", "display_name",
                            "enabled_notification_types", "default_policy_name",
                            "company_policy_name", "bound_at", "last_error",
                            "last_reconciled_at"]
        extra_kwargs = {"default_ownership": {"choices": AndroidOwnership.choices}}

    def validate_service_account_key(self, value: str) -> dict:
        try:
            return parse_service_account(value)
        except AndroidSetupError as exc:
            raise serializers.ValidationError(str(exc)) from None


class SignupSerializer(StrictJsonInput, serializers.Serializer):
    admin_email = serializers.EmailField(required=False)


class SignupUrlSerializer(serializers.Serializer):
    url = serializers.URLField()


class AndroidEnterpriseViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """The tenant's Android Enterprise: credentials, Pub/Sub topic, binding."""

    serializer_class = AndroidEnterpriseSerializer
    pagination_class = None
    queryset = AndroidEnterprise.objects.all()

    @extend_schema(methods=["GET"], responses={
        200: AndroidEnterpriseSerializer, 404: OpenApiResponse(description="Not configured.")})
    @extend_schema(methods=["PUT"], request=AndroidEnterpriseSerializer, responses={
        200: AndroidEnterpriseSerializer,
        409: OpenApiResponse(description="service_account_key is required (none stored).")})
    @action(detail=False, methods=["get", "put"], url_path="current")
    def current(self, request):
        enterprise = enterprise_for(self.tenant)
        if request.method == "GET":
            if enterprise is None:
                return error_response("not_found", "Android Enterprise is not configured.",
                                      status.HTTP_404_NOT_FOUND)
            return Response(AndroidEnterpriseSerializer(enterprise).data)
        params = AndroidEnterpriseSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if "service_account_key" not in data and (enterprise is None or
                                                  not enterprise.service_account_encrypted):
            return error_response("conflict", "service_account_key is required (none is "
                                              "stored yet).", status.HTTP_409_CONFLICT)
        saved = do_save_android_settings(
            self.tenant, actor=self.actor, origin=Origin.of(request),
            project_id=data.get("project_id", ""),
            service_account=data.get("service_account_key"),
            pubsub_topic=data.get("pubsub_topic", ""),
            default_ownership=data.get("default_ownership"),
            agent_app_package=data.get("agent_app_package", ""))
        if saved.is_bound:
            apply_enterprise_configuration(saved)
        return Response(AndroidEnterpriseSerializer(saved).data)

    @extend_schema(request=SignupSerializer, responses={201: SignupUrlSerializer, **REFUSED})
    @action(detail=False, methods=["post"])
    def signup(self, request):
        """A managed Google Play sign-up URL for the admin to open (binding)."""
        params = SignupSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            url = start_signup(self.tenant, actor=self.actor, origin=Origin.of(request),
                               admin_email=params.validated_data.get("admin_email"))
        except (AndroidSetupError, AmapiError) as exc:
            return _refused(exc)
        return Response({"url": url}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: AndroidEnterpriseSerializer, **REFUSED})
    @action(detail=False, methods=["post"])
    def unbind(self, request):
        try:
            unbind(self.tenant, actor=self.actor, origin=Origin.of(request))
        except AndroidSetupError as exc:
            return _refused(exc)
        return Response(AndroidEnterpriseSerializer(enterprise_for(self.tenant)).data)
