"""API: devices (list, detail, retire, renew identity), their MDM commands (history,
enqueue), identity renewals, Apple MDM settings."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import ErrorSerializer, error_response
from core.api.pagination import LargeListPagination
from core.api.viewsets import TenantReadOnlyViewSet, TenantScopedMixin
from core.filters import refuse_loose_values
from core.origin import Origin
from devices.api.android import android_retire_response
from devices.api.push import ApnsUploadErrorSerializer, topic_change_response
from devices.api.serializers import (
    AppleMdmSettingsSerializer,
    BulkActionSerializer,
    BulkResultSerializer,
    CommandSerializer,
    DeviceDetailSerializer,
    DeviceSerializer,
    EnqueueCommandSerializer,
    IdentityRenewalSerializer,
    IdentitySummarySerializer,
    RenewIdentityResultSerializer,
)
from devices.apple.commands import CommandRejected, do_enqueue_command
from devices.filtersets import CommandFilterSet, DeviceFilterSet, IdentityRenewalFilterSet
from devices.models import AppleChannel, Command, CommandStatus, Device, IdentityRenewal
from devices.push.apns import ApnsCertificateError
from devices.push.credentials import TopicChangeRequired, do_save_apple_mdm_settings
from devices.services import bulk
from devices.services.lifecycle import do_retire_device
from devices.services.profiles import do_install_profile
from devices.services.renewals import do_request_renewal, identity_summary
from enrollment.models import AppleMdmSettings
from enrollment.services.apple_settings import apple_settings
from profiles.models import ConfigurationProfile


class DeviceViewSet(TenantReadOnlyViewSet):
    """Enrolled devices. Filter by platform, state, owner, or search (q)."""

    queryset = Device.objects.select_related("owner")
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    pagination_class = LargeListPagination

    def get_serializer_class(self):
        return DeviceDetailSerializer if self.action == "retrieve" else DeviceSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("apple_channels", Prefetch(
                "identity_renewals", to_attr="latest_renewals",
                queryset=IdentityRenewal.objects.select_related(
                    "previous_certificate", "new_certificate").order_by("-created_at", "-id")[:1]))
        return queryset

    @extend_schema(request=None, responses={
        202: RenewIdentityResultSerializer,
        409: OpenApiResponse(ErrorSerializer, description=(
            "`cannot_renew`: the message says why (not an Apple device, not managed, no MDM "
            "identity yet, a renewal already waiting for the device, Apple MDM not set up)."))})
    @action(detail=True, methods=["post"], url_path="renew-identity")
    def renew_identity(self, request, pk=None):
        """Renew the device's MDM identity now, whatever its expiry: a re-enrollment profile
        is queued and the device pushed; it renews at its next check-in. Within the tenant's
        per-minute limit it goes at once, otherwise with the next minutes (`deferred`)."""
        device = self.get_object()
        batch = do_request_renewal(self.tenant, [device.pk], actor=self.actor,
                                   origin=Origin.of(request))
        if device.pk in batch.skipped:
            reason = batch.skipped[device.pk]
            return error_response("cannot_renew", f"{reason[:1].upper()}{reason[1:]}.",
                                  status.HTTP_409_CONFLICT)
        renewal = batch.queued[0] if batch.queued else None
        return Response(RenewIdentityResultSerializer(
            {"renewal": renewal, "deferred": renewal is None}).data,
            status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: CommandSerializer(many=True)}, filters=False,
                   methods=["GET"], description="The device's command history, newest first.",
                   parameters=[
                       OpenApiParameter("status", str, enum=CommandStatus.values),
                       OpenApiParameter("request_type", str)])
    @extend_schema(request=EnqueueCommandSerializer, responses={201: CommandSerializer},
                   methods=["POST"], description="Queue an MDM command for the device.")
    @action(detail=True, methods=["get", "post"])
    def commands(self, request, pk=None):
        device = self.get_object()
        if request.method == "POST":
            return self._enqueue(request, device)
        filterset = CommandFilterSet(
            request.query_params,
            queryset=Command.objects.for_tenant(self.tenant).filter(device=device)
            .select_related("channel"))
        refuse_loose_values(filterset, request.query_params)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(CommandSerializer(page, many=True).data)

    def _enqueue(self, request, device: Device) -> Response:
        params = EnqueueCommandSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        channel = None
        try:
            if data.get("user_channel"):
                channel = AppleChannel.objects.get_in_tenant(
                    self.tenant, device=device, channel_id=data["user_channel"],
                    is_user_channel=True)
            if data.get("configuration_profile") is not None:
                if data["request_type"] != "InstallProfile":
                    return error_response("invalid", "configuration_profile goes with "
                                                     "request_type InstallProfile.")
                profile = ConfigurationProfile.objects.get_in_tenant(
                    self.tenant, pk=data["configuration_profile"])
                command = do_install_profile(self.tenant, device, profile, actor=self.actor,
                                             channel=channel, origin=Origin.of(request))
            else:
                command = do_enqueue_command(self.tenant, device, data["request_type"],
                                             data["payload"], actor=self.actor,
                                             channel=channel, origin=Origin.of(request))
        except Http404 as exc:
            return error_response("invalid", f"{exc}")
        except CommandRejected as exc:
            return error_response("invalid", str(exc))
        return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={
        200: DeviceSerializer,
        409: OpenApiResponse(description="Android: does not apply in the device's state."),
        502: OpenApiResponse(description="Android: Google refused or failed.")})
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        """Stop managing the device: its identity is revoked and it unenrolls at its next
        check-in."""
        device = self.get_object()
        if device.platform == "android":  # AMAPI: see devices/android/actions.py
            return android_retire_response(self.tenant, device, actor=self.actor,
                                           origin=Origin.of(request))
        do_retire_device(self.tenant, device, actor=self.actor, origin=Origin.of(request))
        return Response(DeviceSerializer(device).data)

    @extend_schema(request=BulkActionSerializer, filters=False, responses={
        200: BulkResultSerializer,
        400: OpenApiResponse(description="Invalid input, or confirmation_required (the message "
                                         "names what the action would do).")})
    @action(detail=False, methods=["post"], url_path="bulk-actions")
    def bulk_actions(self, request):
        """One action on many devices, each device's outcome returned (done, skipped, failed
        with the reason, not_found for ids that are not this organization's devices). Without
        `"confirm": true` nothing happens: the 400 confirmation_required answer says what
        would."""
        params = BulkActionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        ids = list(dict.fromkeys(data["devices"]))
        devices, missing = bulk.load_devices(self.tenant, ids)
        if not data["confirm"]:
            plan = bulk.confirmation(data["action"], devices, missing)
            return error_response("confirmation_required",
                                  " ".join([plan.headline, *plan.consequences]))
        result = bulk.run_bulk_action(
            self.tenant, data["action"], devices, missing, actor=self.actor,
            origin=Origin.of(request), pin=data.get("pin"),
            preserve_data_plan=data["preserve_data_plan"])
        return Response(BulkResultSerializer({
            "action": result.action, "summary": result.summary(), **result.counts(),
            "results": result.outcomes}).data)


class IdentityRenewalViewSet(TenantReadOnlyViewSet):
    """Identity renewal attempts, newest first; filter by device, state or reason."""

    queryset = IdentityRenewal.objects.select_related("previous_certificate", "new_certificate")
    serializer_class = IdentityRenewalSerializer
    filterset_class = IdentityRenewalFilterSet

    @extend_schema(responses={200: IdentitySummarySerializer}, filters=False)
    @action(detail=False, methods=["get"])
    def summary(self, request):
        """The dashboard's figures: identities expired or expiring within 30/60/90 days,
        attempts waiting for their device, attempts failed in the last 7 days."""
        return Response(IdentitySummarySerializer(identity_summary(self.tenant)).data)


class AppleMdmSettingsViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """The tenant's Apple MDM settings: APNs push topic, enrollment profile signing."""

    serializer_class = AppleMdmSettingsSerializer
    pagination_class = None
    queryset = AppleMdmSettings.objects.all()

    def get_object(self):
        return apple_settings(self.tenant)

    @extend_schema(methods=["GET"], responses={200: AppleMdmSettingsSerializer})
    @extend_schema(methods=["PUT", "PATCH"], request=AppleMdmSettingsSerializer, responses={
        200: AppleMdmSettingsSerializer,
        400: OpenApiResponse(ApnsUploadErrorSerializer, description=(
            "`invalid`: a malformed topic, or a topic other than the installed APNs "
            "certificate's. `confirmation_required`: a new topic would make every managed "
            "Apple device enroll again; `confirmation` says how many (audited; send "
            "`confirm_topic_change`)."))})
    @action(detail=False, methods=["get", "put", "patch"], url_path="current")
    def current(self, request):
        settings = self.get_object()
        if request.method == "GET":
            return Response(AppleMdmSettingsSerializer(settings).data)
        params = AppleMdmSettingsSerializer(settings, data=request.data,
                                            partial=request.method == "PATCH")
        params.is_valid(raise_exception=True)
        try:
            saved = do_save_apple_mdm_settings(self.tenant, actor=self.actor,
                                               origin=Origin.of(request), **params.validated_data)
        except TopicChangeRequired as exc:
            return topic_change_response(exc)
        except ApnsCertificateError as exc:
            return error_response("invalid", str(exc))
        return Response(AppleMdmSettingsSerializer(saved).data)



