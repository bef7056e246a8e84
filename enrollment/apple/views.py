"""The one-time enrollment profile download (GET /t/<slug>/enroll/apple/<token>.mobileconfig).

Spent, expired or closed tokens get a page that says what to do (410), an unknown one 404;
an organization not set up for Apple devices 503, without spending the token.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.origin import Origin
from enrollment.apple.profile import (
    CONTENT_TYPE,
    ProfileNotConfigured,
    check_ready,
    render_registration_profile,
)
from enrollment.services.registrations import ProfileUnavailable, do_claim_profile

TEMPLATE = "selfservice/enroll_unavailable.html"


@require_GET
def enrollment_profile(request: HttpRequest, tenant_slug: str, token: str) -> HttpResponse:
    tenant = request.tenant
    try:
        check_ready(tenant)
        with transaction.atomic():  # a profile we fail to build does not spend the token
            registration, minted = do_claim_profile(tenant, token, origin=Origin.of(request))
            body = render_registration_profile(tenant, registration, minted.raw)
    except ProfileNotConfigured as exc:
        return render(request, TEMPLATE, {"reason": exc.reason}, status=503)
    except ProfileUnavailable as exc:
        return render(request, TEMPLATE, {"reason": exc.reason},
                      status=404 if exc.reason == "unknown" else 410)
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{tenant_slug}-enroll.mobileconfig"'
    response["Cache-Control"] = "no-store"
    return response
