"""SCEP over HTTP (RFC 8894 section 4): GetCACaps, GetCACert, PKIOperation by GET or POST.

The view reads the transport (query, body: also chunked) and hands bytes to the service.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.origin import Origin
from enrollment.scep.capabilities import CA_CAPS_CONTENT_TYPE, get_ca_caps
from enrollment.scep.errors import UnparseableMessage
from enrollment.scep.service import get_ca_cert, handle_pki_operation
from enrollment.scep.transport import MAX_MESSAGE_BYTES, decode_message_param
from enrollment.services.authorities import serving_authority


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain")


def read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The request body, also when sent chunked (no Content-Length: Django then sees none);
    None when it exceeds `limit`."""
    if request.META.get("CONTENT_LENGTH"):
        if int(request.META["CONTENT_LENGTH"]) > limit:
            return None
        return request.body
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        stream = request.META["wsgi.input"]
        data = stream.read(limit + 1)
        return None if len(data) > limit else data
    return request.body


@csrf_exempt
@require_http_methods(["GET", "POST"])
def scep(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    operation = request.GET.get("operation", "")
    if operation == "GetCACaps":
        return HttpResponse(get_ca_caps(), content_type=CA_CAPS_CONTENT_TYPE)
    tenant = request.tenant
    authority = serving_authority(tenant)
    if authority is None:
        return _plain(503, "This organization has no certificate authority yet.")
    if operation == "GetCACert":
        reply = get_ca_cert(authority)
        return HttpResponse(reply.body, content_type=reply.content_type)
    if operation != "PKIOperation":
        return _plain(400, "Unknown or missing SCEP operation.")
    if request.method == "POST":
        try:
            body = read_body(request, MAX_MESSAGE_BYTES)
        except ValueError:
            return _plain(400, "Invalid Content-Length.")
        if body is None:
            return _plain(413, "SCEP message too large.")
    else:
        raw = request.META.get("QUERY_STRING", "")
        # Read `message` from the raw query: Django's parsing turns an unescaped "+" into a
        # space; the transport decoder restores it either way.
        value = next((part[8:] for part in raw.split("&") if part.startswith("message=")), "")
        try:
            body = decode_message_param(value)
        except UnparseableMessage:
            return _plain(400, "The message parameter is not valid base64.")
    reply = handle_pki_operation(tenant, authority, body, Origin.of(request))
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
