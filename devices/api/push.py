"""API: the APNs MDM certificate, the requests for one made here and the MDM vendor
certificate that signs them, the agent app's push credentials, the reminder cadence, push
attempts (the result of each push, per device) and "push these devices now"; plus the agent
app's own endpoint to register its push token."""

from __future__ import annotations

import base64
import binascii

import django_filters
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ErrorBodySerializer, ErrorSerializer, error_response
from core.api.schema import NO_NUL, StrictJsonInput
from core.api.viewsets import TenantReadOnlyViewSet, TenantScopedMixin
from core.filters import IdFilter
from core.origin import Origin
from devices import tasks
from devices.models import (
    ApnsCertificate,
    ApnsCertificateRequest,
    AppPushCredentials,
    Device,
    MdmVendorCertificate,
    PushAttempt,
    PushKind,
    PushResult,
)
from devices.push.apns import ApnsCertificateError
from devices.push.certificate_request import REQUEST_FILENAME, VendorCertificateError
from devices.push.credentials import (
    TopicChangeRequired,
    apns_certificate,
    app_push_credentials,
    do_create_apns_certificate_request,
    do_save_app_push_credentials,
    do_save_mdm_vendor_certificate,
    do_upload_apns_certificate,
    mdm_vendor_certificate,
)
from devices.push.fcm import FcmCredentialsError
from enrollment.api.app import AppSessionAuthentication, IsAppSession
from enrollment.models import AppSession, ReminderPolicy
from enrollment.services.reminders import do_save_reminder_policy, reminder_policy


class ApnsCertificateSerializer(serializers.ModelSerializer):
    expires_soon = serializers.BooleanField(read_only=True)
    days_left = serializers.IntegerField(read_only=True)

    class Meta:
        model = ApnsCertificate
        fields = ["topic", "subject", "serial_number", "not_before", "not_after", "days_left",
                  "expires_soon", "uploaded_at", "uploaded_by_label", "certificate_pem"]
        read_only_fields = fields


def _pem_or_base64(value: str) -> bytes:
    if "-----BEGIN" in value:
        return value.encode()
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise serializers.ValidationError("Give PEM text, or the file as base64.") from None


class ApnsCertificateUploadSerializer(StrictJsonInput, serializers.Serializer):
    content_formats = {"certificate": "apns-certificate", "private_key": "pem-private-key",
                       "password": "key-password"}

    certificate = serializers.CharField(max_length=350_000, help_text=(
        "Apple's certificate for a request made here (PEM text, or DER as base64): it is "
        "joined to the key kept with the request. Or the .p12 file as base64, or PEM text "
        "(certificate, and key unless `private_key`)."))
    private_key = serializers.CharField(max_length=100_000, required=False, allow_blank=True,
                                        help_text="PEM private key, when separate.")
    password = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                     trim_whitespace=False)
    confirm_topic_change = serializers.BooleanField(default=False, help_text=(
        "Install a certificate whose topic differs from the current one: every Apple device "
        "will have to enroll again. Without it such an upload answers 400 "
        "`confirmation_required`."))

    def validate_certificate(self, value: str) -> bytes:
        return _pem_or_base64(value)


class TopicChangeSerializer(serializers.Serializer):
    current_topic = serializers.CharField()
    new_topic = serializers.CharField()
    apple_devices = serializers.IntegerField(help_text="Apple devices that would have to "
                                                       "enroll again.")


def topic_change_response(exc: TopicChangeRequired) -> Response:
    """400 confirmation_required, with what the admin confirms: the topics and how many Apple
    devices would have to enroll again."""
    return Response({"error": {"code": "confirmation_required", "message": str(exc),
                               "confirmation": TopicChangeSerializer(exc).data}},
                    status=status.HTTP_400_BAD_REQUEST)


class ApnsUploadErrorBodySerializer(ErrorBodySerializer):
    confirmation = TopicChangeSerializer(required=False, help_text=(
        "With code `confirmation_required`: what installing this certificate would change."))


class ApnsUploadErrorSerializer(serializers.Serializer):
    error = ApnsUploadErrorBodySerializer()


class ApnsCertificateRequestSerializer(serializers.ModelSerializer):
    signed_request = serializers.SerializerMethodField(help_text=(
        f"The vendor-signed request to upload to Apple's Push Certificates Portal, as the file "
        f"holds it (base64 of the plist): save it as {REQUEST_FILENAME}. Null when no vendor "
        f"certificate signed it: have `csr_pem` signed by your vendor instead."))
    signed_request_filename = serializers.SerializerMethodField()
    signed_by = serializers.SerializerMethodField(help_text=(
        "Whose vendor certificate signed the request: `tenant`, `deployment`, or null when "
        "none did."))

    class Meta:
        model = ApnsCertificateRequest
        fields = ["id", "created_at", "created_by_label", "public_key_sha256", "csr_pem",
                  "signed_by", "vendor_subject", "signed_request", "signed_request_filename",
                  "matched_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(
        choices=ApnsCertificateRequest.SignedBy.choices, allow_null=True))
    def get_signed_by(self, obj) -> str | None:
        return obj.signed_by or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_signed_request(self, obj) -> str | None:
        return obj.signed_request or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_signed_request_filename(self, obj) -> str | None:
        return REQUEST_FILENAME if obj.signed_request else None


class ApnsCertificateRequestCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, default="",
                                   help_text="Apple ID email written into the CSR (optional).")


class MdmVendorCertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = MdmVendorCertificate
        fields = ["subject", "serial_number", "not_after", "uploaded_at", "uploaded_by_label",
                  "certificate_pem", "issuers_pem"]
        read_only_fields = fields


class MdmVendorCertificateUploadSerializer(serializers.Serializer):
    content_formats = {"certificate": "mdm-vendor-certificate", "private_key": "pem-private-key",
                       "chain": "pem-certificate-chain", "password": "key-password"}

    certificate = serializers.CharField(max_length=350_000, help_text=(
        "The MDM vendor certificate (MDM CSR from Apple Developer): PEM text (may hold the "
        "chain and the key too), DER (.cer) as base64, or a .p12 as base64."))
    private_key = serializers.CharField(max_length=100_000, required=False, allow_blank=True,
                                        help_text="Its PEM private key, when separate.")
    chain = serializers.CharField(max_length=100_000, required=False, allow_blank=True,
                                  help_text="Apple's WWDR intermediate and Apple Root CA: PEM "
                                            "text, or the DER files concatenated as base64.")
    password = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                     trim_whitespace=False)

    def validate_certificate(self, value: str) -> bytes:
        return _pem_or_base64(value)

    def validate_chain(self, value: str) -> bytes | None:
        return _pem_or_base64(value) if value.strip() else None


@extend_schema_field({
    "type": "object",
    "description": "A Google Cloud service-account key file (JSON), as the Cloud console gives "
                   "it; other members of the file are kept as they are.",
    "properties": {
        "type": {"type": "string", "enum": ["service_account"]},
        "project_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL},
        "private_key": {"type": "string", "format": "pem-private-key", "maxLength": 5000,
                        "description": "Format `pem-private-key`: the account's RSA key as "
                                       "PEM text (-----BEGIN PRIVATE KEY-----), clear."},
        "client_email": {"type": "string", "format": "email", "maxLength": 300},
        "token_uri": {"type": "string", "format": "uri", "maxLength": 5000},
    },
    "required": ["type", "project_id", "private_key", "client_email", "token_uri"],
}, component_name="GoogleServiceAccountKey")
class ServiceAccountKeyField(serializers.JSONField):
    """A service-account key file, parsed (a JSON object)."""


class AppPushCredentialsSerializer(StrictJsonInput, serializers.ModelSerializer):
    content_formats = {"apns_key": "apple-p8-key"}

    has_apns = serializers.BooleanField(read_only=True)
    has_fcm = serializers.BooleanField(read_only=True)
    apns_key = serializers.CharField(write_only=True, required=False, max_length=10_000,
                                     help_text="The .p8 auth key (PEM text).")
    fcm_service_account = ServiceAccountKeyField(write_only=True, required=False,
                                                 help_text="The service account key (JSON).")
    apns_key_id = serializers.RegexField(r"^[A-Z0-9]{10}$", required=False, allow_blank=True)
    apns_team_id = serializers.RegexField(r"^[A-Z0-9]{10}$", required=False, allow_blank=True)
    apns_bundle_id = serializers.RegexField(r"^[A-Za-z0-9.-]{3,200}$", required=False,
                                            allow_blank=True)
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True,
        help_text="null while the defaults apply (never saved).")

    class Meta:
        model = AppPushCredentials
        fields = ["apns_key_id", "apns_team_id", "apns_bundle_id", "apns_use_sandbox",
                  "apns_key", "fcm_service_account", "has_apns", "has_fcm", "fcm_project_id",
                  "fcm_client_email", "updated_at"]
        read_only_fields = ["has_apns", "has_fcm", "fcm_project_id", "fcm_client_email",
                            "updated_at"]


class ReminderPolicySerializer(StrictJsonInput, serializers.ModelSerializer):
    interval_minutes = serializers.IntegerField(min_value=15, max_value=7 * 24 * 60)
    max_reminders = serializers.IntegerField(min_value=0, max_value=20)
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True,
        help_text="null while the defaults apply (never saved).")

    class Meta:
        model = ReminderPolicy
        fields = ["enabled", "interval_minutes", "max_reminders", "updated_at"]
        read_only_fields = ["updated_at"]


class PushAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = PushAttempt
        fields = ["id", "device", "registration", "kind", "reason", "result", "status_code",
                  "error", "message_id", "tries", "created_at"]
        read_only_fields = fields


class PushDevicesSerializer(StrictJsonInput, serializers.Serializer):
    devices = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1,
                                    max_length=10_000)


class PushAttemptFilterSet(django_filters.FilterSet):
    device = IdFilter(field_name="device_id")
    registration = IdFilter(field_name="registration_id")
    kind = django_filters.ChoiceFilter(choices=PushKind.choices)
    result = django_filters.ChoiceFilter(choices=PushResult.choices)
    reason = django_filters.CharFilter()

    class Meta:
        model = PushAttempt
        fields = ["device", "registration", "kind", "result", "reason"]


class _CurrentObjectViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    pagination_class = None


class ApnsCertificateViewSet(_CurrentObjectViewSet):
    """The tenant's APNs MDM push certificate. Uploading one also sets the Apple MDM push
    topic that enrollment profiles carry."""

    queryset = ApnsCertificate.objects.all()
    serializer_class = ApnsCertificateSerializer

    @extend_schema(methods=["GET"], responses={
        200: ApnsCertificateSerializer,
        404: OpenApiResponse(ErrorSerializer, description="None yet.")})
    @extend_schema(methods=["PUT"], request=ApnsCertificateUploadSerializer, responses={
        200: ApnsCertificateSerializer,
        400: OpenApiResponse(ApnsUploadErrorSerializer, description=(
            "`invalid`: not a certificate, expired, not an MDM push certificate, wrong "
            "password, a key of another certificate, or Apple's certificate matching none of "
            "the requests made here (audited). `confirmation_required`: its topic is not the "
            "current one; `confirmation` names the topics and how many Apple devices would "
            "have to enroll again (audited; send `confirm_topic_change`)."))})
    @action(detail=False, methods=["get", "put"], url_path="current")
    def current(self, request):
        if request.method == "GET":
            certificate = apns_certificate(self.tenant)
            if certificate is None:
                return error_response("not_found", "No APNs certificate uploaded.",
                                      status.HTTP_404_NOT_FOUND)
            return Response(ApnsCertificateSerializer(certificate).data)
        params = ApnsCertificateUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            certificate = do_upload_apns_certificate(
                self.tenant, data["certificate"], password=data.get("password") or None,
                key_data=(data.get("private_key") or "").encode() or None,
                confirm_topic_change=data["confirm_topic_change"], actor=self.actor,
                origin=Origin.of(request))
        except TopicChangeRequired as exc:
            return topic_change_response(exc)
        except ApnsCertificateError as exc:
            return error_response("invalid", str(exc))
        return Response(ApnsCertificateSerializer(certificate).data)


@extend_schema_view(retrieve=extend_schema(responses={
    200: ApnsCertificateRequestSerializer,
    404: OpenApiResponse(ErrorSerializer, description="No such request in this organization.")}))
class ApnsCertificateRequestViewSet(TenantScopedMixin, mixins.ListModelMixin,
                                    mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Push certificate requests made here: a new push key (kept, encrypted) and its CSR,
    signed by the tenant's MDM vendor certificate (else this server's) into the file Apple's
    Push Certificates Portal takes. Upload the certificate Apple gives back to
    `PUT /api/v1/apns-certificate/current/` as it is: it is joined to its request's key."""

    queryset = ApnsCertificateRequest.objects.all()
    serializer_class = ApnsCertificateRequestSerializer

    @extend_schema(request=ApnsCertificateRequestCreateSerializer, responses={
        201: ApnsCertificateRequestSerializer,
        400: OpenApiResponse(ErrorSerializer, description=(
            "Invalid email, or the vendor certificate that should sign cannot (expired, "
            "unreadable): the message says which."))})
    def create(self, request):
        params = ApnsCertificateRequestCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            created = do_create_apns_certificate_request(
                self.tenant, email=params.validated_data["email"], actor=self.actor,
                origin=Origin.of(request))
        except VendorCertificateError as exc:
            return error_response("invalid", str(exc))
        return Response(ApnsCertificateRequestSerializer(created).data,
                        status=status.HTTP_201_CREATED)


class MdmVendorCertificateViewSet(_CurrentObjectViewSet):
    """The tenant's own MDM vendor certificate (Apple Developer: MDM CSR), with its key
    (write-only, stored encrypted) and Apple's chain: it signs the tenant's push certificate
    requests, in place of this server's (MDM_VENDOR_CERTIFICATE_FILE)."""

    queryset = MdmVendorCertificate.objects.all()
    serializer_class = MdmVendorCertificateSerializer

    @extend_schema(methods=["GET"], responses={
        200: MdmVendorCertificateSerializer,
        404: OpenApiResponse(ErrorSerializer, description="None uploaded.")})
    @extend_schema(methods=["PUT"], request=MdmVendorCertificateUploadSerializer, responses={
        200: MdmVendorCertificateSerializer,
        400: OpenApiResponse(ErrorSerializer, description=(
            "Not a certificate, its key missing or not its own, not RSA, expired, or Apple's "
            "chain incomplete (WWDR intermediate and Apple Root CA)."))})
    @action(detail=False, methods=["get", "put"], url_path="current")
    def current(self, request):
        if request.method == "GET":
            saved = mdm_vendor_certificate(self.tenant)
            if saved is None:
                return error_response("not_found", "No MDM vendor certificate uploaded.",
                                      status.HTTP_404_NOT_FOUND)
            return Response(MdmVendorCertificateSerializer(saved).data)
        params = MdmVendorCertificateUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            saved = do_save_mdm_vendor_certificate(
                self.tenant, data["certificate"], password=data.get("password") or None,
                key_data=(data.get("private_key") or "").encode() or None,
                chain_data=data.get("chain"), actor=self.actor, origin=Origin.of(request))
        except VendorCertificateError as exc:
            return error_response("invalid", str(exc))
        return Response(MdmVendorCertificateSerializer(saved).data)


class AppPushCredentialsViewSet(_CurrentObjectViewSet):
    """How reminders reach the agent app: APNs token auth (.p8 key) and FCM (service
    account). Keys are write-only and stored encrypted."""

    queryset = AppPushCredentials.objects.all()
    serializer_class = AppPushCredentialsSerializer

    @extend_schema(methods=["GET"], responses={200: AppPushCredentialsSerializer})
    @extend_schema(methods=["PUT", "PATCH"], request=AppPushCredentialsSerializer,
                   responses={200: AppPushCredentialsSerializer})
    @action(detail=False, methods=["get", "put", "patch"], url_path="current")
    def current(self, request):
        current = app_push_credentials(self.tenant)
        if request.method == "GET":
            return Response(AppPushCredentialsSerializer(current).data)
        params = AppPushCredentialsSerializer(current, data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            saved = do_save_app_push_credentials(
                self.tenant, actor=self.actor, origin=Origin.of(request),
                apns_key_id=data.get("apns_key_id"), apns_team_id=data.get("apns_team_id"),
                apns_bundle_id=data.get("apns_bundle_id"),
                apns_use_sandbox=data.get("apns_use_sandbox"),
                apns_key_pem=data["apns_key"].encode() if data.get("apns_key") else None,
                fcm_service_account=data.get("fcm_service_account"))
        except (ApnsCertificateError, FcmCredentialsError) as exc:
            return error_response("invalid", str(exc))
        return Response(AppPushCredentialsSerializer(saved).data)


class ReminderPolicyViewSet(_CurrentObjectViewSet):
    """Registration reminder cadence: every `interval_minutes`, at most `max_reminders`."""

    queryset = ReminderPolicy.objects.all()
    serializer_class = ReminderPolicySerializer

    @extend_schema(methods=["GET"], responses={200: ReminderPolicySerializer})
    @extend_schema(methods=["PUT", "PATCH"], request=ReminderPolicySerializer,
                   responses={200: ReminderPolicySerializer})
    @action(detail=False, methods=["get", "put", "patch"], url_path="current")
    def current(self, request):
        policy = reminder_policy(self.tenant)
        if request.method == "GET":
            return Response(ReminderPolicySerializer(policy).data)
        params = ReminderPolicySerializer(policy, data=request.data,
                                          partial=request.method == "PATCH")
        params.is_valid(raise_exception=True)
        values = {"enabled": policy.enabled, "interval_minutes": policy.interval_minutes,
                  "max_reminders": policy.max_reminders, **params.validated_data}
        saved = do_save_reminder_policy(self.tenant, actor=self.actor,
                                        origin=Origin.of(request), **values)
        return Response(ReminderPolicySerializer(saved).data)


class PushAttemptViewSet(TenantReadOnlyViewSet):
    """Every push with its result, newest first; filter by device to see its last push."""

    queryset = PushAttempt.objects.all()
    serializer_class = PushAttemptSerializer
    filterset_class = PushAttemptFilterSet

    @extend_schema(request=PushDevicesSerializer,
                   responses={202: OpenApiResponse(description="Push queued."),
                              404: OpenApiResponse(description="Devices not found here."),
                              409: OpenApiResponse(description="No APNs certificate yet.")})
    @action(detail=False, methods=["post"], url_path="push-devices")
    def push_devices(self, request):
        """Push these Apple devices now (they check in and fetch their queued commands)."""
        params = PushDevicesSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        wanted = set(params.validated_data["devices"])
        found = set(Device.objects.for_tenant(self.tenant).filter(pk__in=wanted)
                    .values_list("pk", flat=True))
        if found != wanted:
            return error_response("not_found",
                                  f"Unknown devices: {sorted(wanted - found)[:20]}",
                                  status.HTTP_404_NOT_FOUND)
        if apns_certificate(self.tenant) is None:
            return error_response("conflict", "Upload the APNs certificate first.",
                                  status.HTTP_409_CONFLICT)
        tasks.push_devices.apply_async((sorted(found),), retry=False)
        return Response({"queued": len(found)}, status=status.HTTP_202_ACCEPTED)


# --- the agent app ---------------------------------------------------------------------------

class AppPushTokenSerializer(StrictJsonInput, serializers.Serializer):
    push_service = serializers.ChoiceField(choices=["apns", "fcm"])
    push_token = serializers.RegexField(r"^[A-Za-z0-9_:.\-]{8,512}$")

    def validate(self, attrs):
        if attrs["push_service"] == "apns":
            try:
                bytes.fromhex(attrs["push_token"])
            except ValueError:
                raise serializers.ValidationError(
                    {"push_token": ["An APNs device token is hexadecimal."]}) from None
        return attrs


class AppPushTokenView(APIView):
    """The agent app registers (or replaces) where it receives pushes: reminders reach it
    there instead of by email. Mount under /t/<tenant>/app/v1/push-token."""

    authentication_classes = [AppSessionAuthentication]
    permission_classes = [IsAppSession]

    @extend_schema(request=AppPushTokenSerializer, responses={204: None}, tags=["agent-app"])
    def put(self, request, tenant_slug: str):
        params = AppPushTokenSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        AppSession.objects.filter(pk=request.auth.pk).update(
            push_service=params.validated_data["push_service"],
            push_token=params.validated_data["push_token"],
            push_token_updated_at=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)
