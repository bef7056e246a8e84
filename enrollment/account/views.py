"""The device's enrollment request (the discovery answer's BaseURL):
``POST /t/<tenant>/enroll/account/<adde|byod>`` with the CMS-signed machine-info plist.

Apple's protocol: without ``Authorization: Bearer`` the answer is 401 with
``WWW-Authenticate: Bearer method="apple-as-web", url="<our sign-in page>"``; the device
signs the user in there, gets an access token and posts the same body again with it. A valid
token of this tenant and mode is spent on a registration and the answer is its enrollment
profile. A malformed body is a 400, a bad token a 401 again (both audited, nothing written).
"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.origin import Origin
from enrollment.account.machine_info import MalformedMachineInfo, parse_machine_info
from enrollment.apple.links import account_sign_in_url
from enrollment.apple.profile import (
    CONTENT_TYPE,
    AccountProfile,
    ProfileNotConfigured,
    check_ready,
    render_registration_profile,
)
from enrollment.models import AccountEnrollmentMode
from enrollment.services.account_enrollment import do_account_enrollment, record_account_refusal
from profiles.mobileconfig import EnrollmentMode

PROFILE_MODES = {AccountEnrollmentMode.ADDE: EnrollmentMode.ADDE,
                 AccountEnrollmentMode.BYOD: EnrollmentMode.BYOD}


def _bearer(request: HttpRequest) -> str | None:
    """The access token, "" for an Authorization header that is not a Bearer one, None when
    there is none (the device's first request)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _sign_in_needed(tenant_slug: str, mode: str) -> HttpResponse:
    response = HttpResponse(b"", status=401)
    url = account_sign_in_url(tenant_slug, mode)
    response["WWW-Authenticate"] = f'Bearer method="apple-as-web", url="{url}"'
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def account_enroll(request: HttpRequest, tenant_slug: str, mode: str) -> HttpResponse:
    if mode not in AccountEnrollmentMode.values:
        raise Http404
    tenant, origin = request.tenant, Origin.of(request)
    try:
        info = parse_machine_info(request.body)
    except MalformedMachineInfo as exc:
        record_account_refusal(tenant, mode, "malformed_body", origin=origin,
                               detail={"error": exc.reason[:300]})
        return HttpResponse(b"Malformed enrollment request.", status=400,
                            content_type="text/plain")
    token = _bearer(request)
    if token is None:
        return _sign_in_needed(tenant_slug, mode)
    try:
        check_ready(tenant)
    except ProfileNotConfigured:
        return HttpResponse(b"Enrollment is not available.", status=503,
                            content_type="text/plain")
    with transaction.atomic():  # a profile we fail to build does not spend the token
        outcome = do_account_enrollment(tenant, mode, token, info, origin=origin)
        if outcome.refused == "unsupported_product":
            return HttpResponse(b"This device cannot enroll here.", status=403,
                                content_type="text/plain")
        if outcome.refused:
            return _sign_in_needed(tenant_slug, mode)
        body = render_registration_profile(
            tenant, outcome.registration, outcome.challenge.raw,
            account=AccountProfile(PROFILE_MODES[mode], outcome.user.email))
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response
