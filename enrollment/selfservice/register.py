"""Self-service portal: register a device (S7, S14) and follow a registration's steps.

macOS: the Mac downloads the profile here and installs it in System Settings. iOS: the page
gives the install steps (or, better, the agent app). Android: the app / QR flow.
"""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.origin import Origin
from core.portal import end_user_required
from enrollment.android.tokens import work_profile_link
from enrollment.diagnostics import diagnose, latest_scep_rejections, steps
from enrollment.models import AndroidOwnership, Registration, RegistrationMethod
from enrollment.services.app_access import QR_MINIMUM_OS, do_create_qr_token
from enrollment.services.pins import verify_pin
from enrollment.services.policies import pin_required, policy_for
from enrollment.services.registration_journey import start_registration
from enrollment.user_agents import device_kind

PLATFORMS = {"ios": "iPhone or iPad", "macos": "Mac", "android": "Android device"}
PIN_OK_SESSION_KEY = "mdm_pin_verified_user"  # set after a correct one-time PIN (S16)
PROFILE_URLS_SESSION_KEY = "mdm_profile_urls"  # registration id -> one-time profile URL


class PinForm(forms.Form):
    pin = forms.RegexField(regex=r"^\d{4,12}$", max_length=12,
                           error_messages={"invalid": "Enter the digits of your PIN."})


@end_user_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    detected = device_kind(request.headers.get("User-Agent", ""))
    platform = request.POST.get("platform") or request.GET.get("platform") or ""
    if platform not in PLATFORMS:
        return render(request, "selfservice/register_choose.html",
                      {"platforms": PLATFORMS, "detected": detected})
    user = request.user
    needs_pin = (pin_required(policy_for(request.tenant), user)
                 and request.session.get(PIN_OK_SESSION_KEY) != user.pk)
    pin_form = PinForm(request.POST if needs_pin and request.method == "POST" else None)
    if request.method == "POST":
        if needs_pin:
            if not pin_form.is_valid():
                return _confirm(request, platform, pin_form, status=400)
            check = verify_pin(request.tenant, user, pin_form.cleaned_data["pin"],
                               origin=Origin.of(request))
            if not check.ok:
                pin_form.add_error("pin", check.message)
                return _confirm(request, platform, pin_form, status=400)
            request.session[PIN_OK_SESSION_KEY] = user.pk
        result = start_registration(request.tenant, user, platform,
                                    RegistrationMethod.SELF_SERVICE, actor=user,
                                    origin=Origin.of(request))
        if result.profile_url:
            urls = request.session.get(PROFILE_URLS_SESSION_KEY, {})
            urls[str(result.registration.pk)] = result.profile_url
            request.session[PROFILE_URLS_SESSION_KEY] = urls
        return redirect("selfservice:registration", tenant_slug=tenant_slug,
                        registration_id=result.registration.pk)
    return _confirm(request, platform, pin_form if needs_pin else None)


def _confirm(request, platform, pin_form, status=200):
    return render(request, "selfservice/register_confirm.html", {
        "platform": platform, "platform_name": PLATFORMS[platform], "pin_form": pin_form,
        "detected": device_kind(request.headers.get("User-Agent", "")),
    }, status=status)


@end_user_required
def registration_status(request: HttpRequest, tenant_slug: str,
                        registration_id: int) -> HttpResponse:
    registration = Registration.objects.get_in_tenant(request.tenant, pk=registration_id,
                                                      user=request.user)
    profile_url = request.session.get(PROFILE_URLS_SESSION_KEY, {}).get(str(registration.pk))
    rejection = latest_scep_rejections(request.tenant, [registration.pk]).get(registration.pk)
    return render(request, "selfservice/registration.html", {
        "registration": registration,
        "diagnosis": diagnose(registration, rejection),
        "steps": steps(registration),
        "profile_url": profile_url if registration.is_open and
        registration.profile_downloaded_at is None else None,
        "minutes_left": max(0, int((registration.expires_at - timezone.now()).total_seconds()
                                   // 60)),
        "hours_left": max(0, int((registration.expires_at - timezone.now()).total_seconds()
                                 // 3600)),
        "platform_name": PLATFORMS.get(registration.platform, registration.platform),
        "now": timezone.now(),
        **(_android_context(registration) if registration.platform == "android" else {}),
    })


def _android_context(registration: Registration) -> dict:
    """The enrollment token's QR code (fully managed, scanned at the welcome screen) or the
    work-profile link, while the registration is open (enrollment/android/tokens.py)."""
    token = getattr(registration, "android_token", None)
    if token is None or token.revoked_at is not None or not registration.is_open:
        return {"android_token": None}
    value, qr_payload = token.value, token.qr_code
    svg = qrcode.make(qr_payload, image_factory=qrcode.image.svg.SvgPathImage,
                      box_size=6).to_string(encoding="unicode") if qr_payload else ""
    return {"android_token": token, "android_qr_svg": svg,
            "android_fully_managed": token.ownership == AndroidOwnership.FULLY_MANAGED,
            "android_work_profile_link": work_profile_link(value) if value else ""}


@end_user_required
@require_POST
def app_qr(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    minted = do_create_qr_token(request.tenant, request.user, origin=Origin.of(request))
    image = qrcode.make(minted.payload, image_factory=qrcode.image.svg.SvgPathImage,
                        box_size=8)
    return render(request, "selfservice/app_qr.html", {
        "svg": image.to_string(encoding="unicode"), "expires_at": minted.token.expires_at,
        "minimum_os": QR_MINIMUM_OS,
    })
