"""One JSON error shape for every API failure: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _message(detail) -> str:
    if isinstance(detail, list):
        return "; ".join(str(item) for item in detail)
    if isinstance(detail, dict):
        parts = []
        for field, errors in detail.items():
            text = _message(errors)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return "; ".join(parts) or "Invalid input."
    return str(detail)


class Conflict(exceptions.APIException):
    """A well-formed request the current state refuses: something is missing first (no
    enterprise bound yet), or already taken (an address with an account)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state."
    default_code = "conflict"


def json_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    body = {"error": {"code": code, "message": _message(detail)}}
    if isinstance(detail, dict):
        body["error"]["fields"] = detail
    elif isinstance(exc, exceptions.ValidationError):
        body["error"]["fields"] = {"non_field_errors": detail}
    response.data = body
    return response


def error_response(code: str, message: str, http_status: int = status.HTTP_400_BAD_REQUEST):
    return Response({"error": {"code": code, "message": message}}, status=http_status)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False, help_text="Per-field messages.")


class ErrorSerializer(serializers.Serializer):
    """The error shape, for the OpenAPI schema: `responses={400: ErrorSerializer}`."""

    error = ErrorBodySerializer()
