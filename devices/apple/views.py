"""HTTP adapters of the Apple MDM endpoints (mounted under /t/<tenant_slug>/mdm/).

Read the body and the identity headers, choose the check-in store (the PostgreSQL fast path
where the database is PostgreSQL, the plain ORM store elsewhere), hand them to the service,
write its reply. Devices send PUT; nothing here needs CSRF (no cookies, identity is the
signed body).
"""

from __future__ import annotations

import os

from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.origin import Origin
from devices.apple.checkin import Reply, serve_checkin, serve_report
from devices.apple.postgres_store import PostgresCheckinStore
from devices.apple.store import CheckinStore, OrmCheckinStore

# Name of the request header a TLS-terminating proxy forwards the client certificate in, e.g.
# "X-Client-Cert" (nginx: proxy_set_header X-Client-Cert $ssl_client_escaped_cert). Unset:
# only Mdm-Signature is accepted. Never set it unless the proxy strips the header from clients.
CLIENT_CERT_HEADER_ENV = "MDM_CLIENT_CERT_HEADER"

_FAST_PATHS: dict[str, CheckinStore] = {"postgresql": PostgresCheckinStore()}
_PLAIN = OrmCheckinStore()


def checkin_store() -> CheckinStore:
    """The store for the default database: its fast path if it has one."""
    return _FAST_PATHS.get(connection.vendor, _PLAIN)


def client_cert_meta_key() -> str | None:
    """The WSGI environ key of the configured forwarded-certificate header, if any."""
    name = os.environ.get(CLIENT_CERT_HEADER_ENV, "").strip()
    if not name:
        return None
    return "HTTP_" + name.upper().replace("-", "_")


def _respond(reply: Reply) -> HttpResponse:
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


def _adapt(request: HttpRequest, serve) -> HttpResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        return HttpResponse(b"Request too large.\n", status=413, content_type="text/plain")
    meta_key = client_cert_meta_key()
    # request.META, not request.headers: the latter copies every header on first use.
    return _respond(serve(request.tenant, body, store=checkin_store(),
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
