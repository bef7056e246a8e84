"""Apple's service discovery for account-driven enrollment:
``GET /.well-known/com.apple.remotemanagement?user-identifier=<user@domain>``.

The device asks the host of the user's domain; the organization publishes (a redirect or a
reverse-proxy rule) this server's URL there. The tenant is the one whose managed domain is
the part after the last "@". The answer lists both versions this server speaks; anything we
cannot answer for is a bare 404 that says nothing of which organizations exist.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from enrollment.apple.links import account_enroll_url
from enrollment.models import AccountEnrollmentMode
from enrollment.services.managed_domains import normalize_domain, tenant_slug_for_domain

# Apple's Version strings, most capable first.
VERSIONS = (("mdm-adde", AccountEnrollmentMode.ADDE), ("mdm-byod", AccountEnrollmentMode.BYOD))


def discovery_document(tenant_slug: str) -> dict:
    return {"Servers": [{"Version": version, "BaseURL": account_enroll_url(tenant_slug, mode)}
                        for version, mode in VERSIONS]}


def _not_found() -> HttpResponse:
    return HttpResponse(b"", status=404, content_type="text/plain")


@require_GET
def service_discovery(request: HttpRequest) -> HttpResponse:
    identifier = request.GET.get("user-identifier", "")
    local, at, domain = identifier.rpartition("@")
    if not at or not local or len(identifier) > 320:
        return _not_found()
    try:
        domain = normalize_domain(domain)
    except ValidationError:
        return _not_found()
    slug = tenant_slug_for_domain(domain)
    if slug is None:
        return _not_found()
    response = HttpResponse(json.dumps(discovery_document(slug)),
                            content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response
