"""HTTP adapters of the Apple MDM endpoints (mounted under /t/<tenant_slug>/mdm/).

Read the body and the identity headers, hand them to the service, write its reply. Devices
send PUT; nothing here needs CSRF (no cookies, identity is the signed body).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.origin import Origin
from devices.apple.checkin import Reply, serve_checkin, serve_report
from devices.apple.store import client_cert_meta_key


def _respond(reply: Reply) -> HttpResponse:
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


def _adapt(request: HttpRequest, serve) -> HttpResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        return HttpResponse(b"Request too large.\n", status=413, content_type="text/plain")
    meta_key = client_cert_meta_key()
    # request.META, not request.headers: the latter copies every header on first use.
    return _respond(serve(request.tenant, body,
                          signature=request.META.get("HTTP_MDM_SIGNATURE"),
                          forwarded_certificate=request.META.get(meta_key) if meta_key else None,
                          origin=Origin.of(request)))


@csrf_exempt
@require_http_methods(["PUT"])
def checkin(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    return _adapt(request, serve_checkin)


@csrf_exempt
@require_http_methods(["PUT"])
def server(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    return _adapt(request, serve_report)
