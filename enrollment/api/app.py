"""The agent app's API (S2, S14, S18), under /t/<tenant>/app/v1/: register with email and
password (directory users: network credentials) or a QR token, plus a PIN when required;
follow the registration; re-register with explicit confirmation."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.events import AuditAction
from audit.record import record
from core.api.schema import StrictJsonInput
from core.origin import Origin
from enrollment.api.registrations import RegistrationSerializer
from enrollment.models import OPEN_STATES, Registration, RegistrationMethod
from enrollment.services.app_access import (
    AppAccessRefused,
    app_session_for,
    check_os_supports_qr,
    open_app_session,
    peek_qr_token,
    redeem_qr_token,
)
from enrollment.services.pins import (
    PinCheck,
    PinOutcome,
    do_set_registration_password,
    spend_pin,
    verify_pin,
)
from enrollment.services.policies import needs_password, pin_required, policy_for
from enrollment.services.registration_journey import start_registration
from enrollment.services.registrations import do_cancel_registration
from users.services.accounts import SignInError, check_new_password, sign_in


class AppSessionAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.startswith("app_"):
            return None
        session = app_session_for(raw.strip())
        if session is None or session.tenant_id != getattr(request._request.tenant, "id", None):
            raise exceptions.AuthenticationFailed("Invalid or revoked app session.")
        return (session.user, session)

    def authenticate_header(self, request) -> str:
        return "Bearer"


class IsAppSession(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.auth is not None


class AppRegisterSerializer(StrictJsonInput, serializers.Serializer):
    platform = serializers.ChoiceField(choices=["ios", "android"])
    os_version = serializers.RegexField(r"^\d{1,3}(\.\d{1,3}){0,2}$", max_length=32)
    email = serializers.EmailField(required=False, max_length=254)
    password = serializers.CharField(required=False, max_length=256, trim_whitespace=False)
    qr_token = serializers.CharField(required=False, max_length=100)
    pin = serializers.RegexField(r"^\d{4,12}$", required=False)
    new_password = serializers.CharField(required=False, max_length=256, trim_whitespace=False,
                                         help_text="Required after a PIN for an account "
                                                   "without a password (S16).")

    def validate(self, attrs):
        if bool(attrs.get("qr_token")) == bool(attrs.get("email")):
            raise serializers.ValidationError("Give either qr_token, or email and password.")
        if attrs.get("email") and not attrs.get("password") and not attrs.get("pin"):
            raise serializers.ValidationError({"password": ["Enter your password or a PIN."]})
        return attrs


class AppRegisteredSerializer(RegistrationSerializer):
    app_token = serializers.CharField(help_text="Bearer token for the app's later calls.")
    profile_url = serializers.URLField(allow_null=True)
    android_enrollment_token = serializers.CharField(
        allow_null=True, help_text="Android: AMAPI enrollment token value for the app's "
                                   "work-profile / in-app QR provisioning.")
    android_qr_payload = serializers.CharField(allow_null=True)

    class Meta(RegistrationSerializer.Meta):
        fields = [*RegistrationSerializer.Meta.fields, "app_token", "profile_url",
                  "android_enrollment_token", "android_qr_payload"]
        read_only_fields = fields


class ReregisterSerializer(StrictJsonInput, serializers.Serializer):
    confirm = serializers.BooleanField(help_text="Must be true: the user confirmed that the "
                                                 "current registration is replaced (S18).")


def _refuse(code: str, message: str, http_status: int = status.HTTP_403_FORBIDDEN) -> Response:
    return Response({"error": {"code": code, "message": message}}, status=http_status)


def _payload(registration: Registration, result_profile_url, app_token, result=None) -> dict:
    return {**RegistrationSerializer(registration).data, "app_token": app_token,
            "profile_url": result_profile_url,
            "android_enrollment_token": getattr(result, "android_enrollment_token", None),
            "android_qr_payload": getattr(result, "android_qr_payload", None)}


class AppRegisterView(APIView):
    """Start a registration from the agent app."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=AppRegisterSerializer, responses={
        201: AppRegisteredSerializer,
        400: OpenApiResponse(description="Bad input, or QR on an OS that is too old."),
        403: OpenApiResponse(description="Wrong credentials, pin_required, pin refused, "
                                         "password_required."),
    }, tags=["agent-app"])
    def post(self, request, tenant_slug: str):
        params = AppRegisterSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data, tenant = params.validated_data, request._request.tenant
        try:
            # Credentials and PIN first, outside the registration's transaction: their failed
            # attempts and audit rows must stay even though nothing else is written.
            user, method = self._identify(request, tenant, data)
            self._second_factor(request, tenant, user, data)
            with transaction.atomic():
                pin_check = data.get("pin_check")
                if pin_check is not None and not spend_pin(tenant, user, pin_check,
                                                           origin=Origin.of(request)):
                    raise AppAccessRefused("pin_refused", PinCheck(PinOutcome.NO_PIN).message)
                if data.get("password_to_set"):  # with the PIN it needed, or not at all
                    do_set_registration_password(tenant, user, data["password_to_set"],
                                                 origin=Origin.of(request))
                if method == RegistrationMethod.QR:
                    user = redeem_qr_token(tenant, data["qr_token"])
                result = start_registration(tenant, user, data["platform"], method, actor=user,
                                            origin=Origin.of(request))
                opened = open_app_session(tenant, user, data["platform"], data["os_version"],
                                          result.registration)
        except AppAccessRefused as exc:
            record(tenant, AuditAction.APP_REGISTRATION_REFUSED, actor="agent-app",
                   origin=Origin.of(request),
                   detail={"code": exc.code, "platform": data["platform"],
                           "os_version": data["os_version"]})
            http = status.HTTP_400_BAD_REQUEST if exc.code.startswith(("os_", "bad_")) \
                else status.HTTP_403_FORBIDDEN
            return _refuse(exc.code, str(exc), http)
        return Response(_payload(result.registration, result.profile_url, opened.raw, result),
                        status=status.HTTP_201_CREATED)

    def _identify(self, request, tenant, data):
        if data.get("qr_token"):
            check_os_supports_qr(data["platform"], data["os_version"])
            return peek_qr_token(tenant, data["qr_token"]), RegistrationMethod.QR
        if data.get("password"):
            try:
                user = sign_in(tenant, data["email"], data["password"], require_admin=False,
                               origin=Origin.of(request))
            except SignInError as exc:
                raise AppAccessRefused("invalid_credentials", str(exc)) from None
            return user, RegistrationMethod.IN_APP
        user = tenant.users.filter(email__iexact=data["email"], is_active=True).first()
        # Checked now, spent with the registration: a refusal below (a new password the
        # policy rejects, say) leaves the PIN for the user's next try.
        check = verify_pin(tenant, user, data["pin"], origin=Origin.of(request),
                           email=data["email"], consume=False)
        if not check.ok:
            raise AppAccessRefused("pin_refused", check.message)
        data["pin_check"] = check
        return user, RegistrationMethod.IN_APP

    def _second_factor(self, request, tenant, user, data) -> None:
        if pin_required(policy_for(tenant), user) and data.get("pin_check") is None:
            if not data.get("pin"):
                raise AppAccessRefused("pin_required", "Enter the one-time PIN from your "
                                                       "invitation email.")
            check = verify_pin(tenant, user, data["pin"], origin=Origin.of(request),
                               consume=False)
            if not check.ok:
                raise AppAccessRefused("pin_refused", check.message)
            data["pin_check"] = check
        if needs_password(user) or user.password_change_due:
            new_password = data.get("new_password")
            if not new_password:
                raise AppAccessRefused("password_required",
                                       "Choose a password for your account (new_password).")
            try:
                check_new_password(user, new_password)
            except DjangoValidationError as exc:
                raise AppAccessRefused("password_rejected", " ".join(exc.messages)) from None
            data["password_to_set"] = new_password  # set with the registration


class AppRegistrationView(APIView):
    """The app's current registration and its state (poll while the profile installs)."""

    authentication_classes = [AppSessionAuthentication]
    permission_classes = [IsAppSession]

    @extend_schema(responses={200: RegistrationSerializer}, tags=["agent-app"])
    def get(self, request, tenant_slug: str):
        registration = request.auth.registration
        if registration is None:
            return _refuse("not_found", "No registration.", status.HTTP_404_NOT_FOUND)
        registration.refresh_from_db()
        return Response(RegistrationSerializer(registration).data)


class AppReregisterView(APIView):
    """Re-register this device (Settings > Troubleshooting > Re-register device, S18)."""

    authentication_classes = [AppSessionAuthentication]
    permission_classes = [IsAppSession]

    @extend_schema(request=ReregisterSerializer, responses={201: AppRegisteredSerializer},
                   tags=["agent-app"])
    def post(self, request, tenant_slug: str):
        params = ReregisterSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        if not params.validated_data["confirm"]:
            return _refuse("confirmation_required", "Confirm that this device's current "
                           "registration is replaced.", status.HTTP_400_BAD_REQUEST)
        session, tenant = request.auth, request._request.tenant
        with transaction.atomic():
            previous = session.registration
            if previous is not None and previous.state in OPEN_STATES:
                do_cancel_registration(previous, actor=session.user, origin=Origin.of(request),
                                       reason="re-registered from the app")
            result = start_registration(tenant, session.user, session.platform,
                                        RegistrationMethod.IN_APP, actor=session.user,
                                        origin=Origin.of(request))
            result.registration.supersedes = previous
            result.registration.save(update_fields=["supersedes"])
            session.registration = result.registration
            session.save(update_fields=["registration"])
            record(tenant, AuditAction.REGISTRATION_REREGISTER_REQUESTED, actor=session.user,
                   target=result.registration, user=session.user, origin=Origin.of(request),
                   detail={"previous_registration": previous.pk if previous else None,
                           "device": previous.device_id if previous else None})
        return Response(_payload(result.registration, result.profile_url, None, result),
                        status=status.HTTP_201_CREATED)
