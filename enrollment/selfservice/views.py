"""Views of the /go flow: each reads its input, calls one service, and hands on to
`_continue`, which routes to the next step (see `flow.next_step`)."""

from __future__ import annotations

from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from audit.events import AuditAction
from audit.record import record
from core.origin import Origin
from enrollment.selfservice.flow import PHONE_PLATFORMS, GoFlow, next_step
from enrollment.selfservice.forms import GoPinForm, GoSetPasswordForm, sign_in_step
from enrollment.selfservice.register import PIN_OK_SESSION_KEY
from enrollment.services.invitations import do_open_invitation, do_use_invitation
from enrollment.services.links import LinkProblem, resolve_link
from enrollment.services.pins import do_set_registration_password, verify_pin
from enrollment.services.policies import policy_for
from enrollment.user_agents import device_kind
from users.models import User

BACKEND = "users.auth.TenantEmailBackend"


def link_gone(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Any /r/ URL that is not (or no longer) a valid registration link (S4)."""
    return render(request, "go/link_invalid.html", status=410)


def _resolve(request: HttpRequest, version: str, token: str):
    """(link, None) for a live link, else (None, the 410 page). Sets request.tenant."""
    resolved = resolve_link(version, token)
    if resolved.problem is not LinkProblem.OK:
        if resolved.link is not None:
            record(resolved.link.tenant, AuditAction.REGISTRATION_LINK_REJECTED, actor="anonymous",
                   target=resolved.link, origin=Origin.of(request),
                   detail={"reason": resolved.problem.value, "version": str(version)[:10]})
        return None, link_gone(request)
    request.tenant = resolved.link.tenant
    return resolved.link, None


def _step_url(name: str, link) -> str:
    return reverse(name, args=[link.format_version, link.token])


def _platform(request: HttpRequest, flow: GoFlow) -> str:
    """The platform this browser registers: ios / android as a phone says; on a desktop only
    what the user chose on the desktop page (`?platform=macos`, "register this Mac", offered
    to Macs; `?platform=ios`, an iPad whose Safari asks for desktop sites and says
    "Macintosh"). "" until a desktop user has chosen: show the desktop page."""
    detected = device_kind(request.headers.get("User-Agent", ""))
    chosen = request.GET.get("platform", "")
    if chosen in PHONE_PLATFORMS or (chosen == "macos" and detected == "macos"):
        flow.platform = chosen
    if detected in PHONE_PLATFORMS:
        return detected
    return flow.platform if flow.platform in (*PHONE_PLATFORMS, "macos") else ""


def _desktop(request: HttpRequest, link) -> HttpResponse:
    url = settings.MDM_PUBLIC_URL + request.path
    svg = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=6)
    kind = device_kind(request.headers.get("User-Agent", ""))
    return render(request, "go/desktop.html", {
        "url": url, "qr_svg": svg.to_string(encoding="unicode"), "is_mac": kind == "macos",
        "mac_url": f"{request.path}?platform=macos", "ipad_url": f"{request.path}?platform=ios",
    })


@require_http_methods(["GET", "POST"])
def go(request: HttpRequest, version: str, token: str) -> HttpResponse:
    link, gone = _resolve(request, version, token)
    if gone:
        return gone
    flow = GoFlow.load(request.session, link)
    platform = _platform(request, flow)
    flow.save(request.session)
    if not platform:
        return _desktop(request, link)
    form, proved = sign_in_step(request, link.tenant, flow)
    if proved:
        return _continue(request, link, flow)
    return render(request, "go/sign_in.html", {"form": form, "link": link, "platform": platform,
                                               "waiting_for_password": flow.pin_user,
                                               "pin_url": _step_url("go:pin", link)},
                  status=400 if request.method == "POST" else 200)


def go_invitation(request: HttpRequest, version: str, token: str, invitation: str):
    link, gone = _resolve(request, version, token)
    if gone:
        return gone
    opened = do_open_invitation(link.tenant, invitation, origin=Origin.of(request))
    flow = GoFlow.load(request.session, link)
    if opened is not None:
        flow.email = opened.user.email
        flow.invitation_id = opened.pk
    platform = _platform(request, flow)
    flow.save(request.session)
    if not platform:
        return _desktop(request, link)
    return redirect(reverse("go:go", args=[version, token]))


@require_http_methods(["GET", "POST"])
def go_pin(request: HttpRequest, version: str, token: str) -> HttpResponse:
    link, gone = _resolve(request, version, token)
    if gone:
        return gone
    flow = GoFlow.load(request.session, link)
    known = flow.user()
    form = GoPinForm(request.POST or None,
                     initial={"email": known.email if known else flow.email})
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        user = User.objects.for_tenant(link.tenant).filter(email__iexact=email).first()
        check = verify_pin(link.tenant, user, form.cleaned_data["pin"], origin=Origin.of(request),
                           email=email)
        if check.ok:
            flow.proved_pin(user)
            flow.save(request.session)
            return _continue(request, link, flow)
        form.add_error(None, check.message)
    return render(request, "go/pin.html", {"form": form, "link": link, "known": known,
                                           "sign_in_url": _step_url("go:go", link)},
                  status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
def go_set_password(request: HttpRequest, version: str, token: str) -> HttpResponse:
    link, gone = _resolve(request, version, token)
    if gone:
        return gone
    flow = GoFlow.load(request.session, link)
    user = flow.user()
    if user is None or next_step(policy_for(link.tenant), user, flow) != "set_password":
        return redirect(reverse("go:go", args=[version, token]))
    form = GoSetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        do_set_registration_password(link.tenant, user, form.cleaned_data["new_password1"],
                                     origin=Origin.of(request))
        flow.proved_password(user)
        flow.save(request.session)
        return _continue(request, link, flow)
    return render(request, "go/set_password.html", {"form": form, "link": link, "user": user},
                  status=400 if request.method == "POST" else 200)


def _continue(request: HttpRequest, link, flow: GoFlow) -> HttpResponse:
    user = flow.user()
    args = [link.format_version, link.token]
    if user is None:
        return redirect(reverse("go:go", args=args))
    step = next_step(policy_for(link.tenant), user, flow)
    if step == "sign_in":
        messages.info(request, "PIN accepted. Now sign in with your password.")
        return redirect(reverse("go:go", args=args))
    if step == "pin":
        return redirect(reverse("go:pin", args=args))
    if step == "set_password":
        return redirect(reverse("go:password", args=args))
    return _finish(request, link, flow, user)


def _finish(request: HttpRequest, link, flow: GoFlow, user: User) -> HttpResponse:
    tenant = link.tenant
    if flow.pin_user == user.pk:  # a password sign-in was audited by `sign_in` already
        record(tenant, AuditAction.LOGIN_SUCCEEDED, actor=user, user=user,
               origin=Origin.of(request), detail={"via": "registration link PIN"})
    platform = flow.platform or device_kind(request.headers.get("User-Agent", ""))
    login(request, user, backend=BACKEND)
    if flow.pin_user == user.pk:
        request.session[PIN_OK_SESSION_KEY] = user.pk  # the register page need not ask again
    if flow.invitation_id:
        do_use_invitation(tenant, flow.invitation_id, user, origin=Origin.of(request))
    GoFlow.clear(request.session)
    target = reverse("selfservice:register", kwargs={"tenant_slug": tenant.slug})
    return redirect(f"{target}?{urlencode({'platform': platform})}")
