"""The web sign-in of account-driven enrollment (the 401's ``url``), opened by the device in
an ASWebAuthenticationSession: ``/t/<tenant>/enroll/account/<mode>/sign-in`` with Apple's
``?user-identifier=`` filling in the email.

The same steps and rules as the /go flow, with its services, forms and pages: email and
password (network credentials for directory users, rate limited, audited), the one-time PIN
and a new password when the account needs them (`flow.next_step`). Once done, a one-time
access token goes to the device in Apple's callback,
``apple-remotemanagement-user-login://authentication-results?access-token=...`` (308).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseRedirectBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from audit.events import AuditAction
from audit.record import record
from core.origin import Origin
from enrollment.models import AccountEnrollmentMode
from enrollment.selfservice.flow import GoFlow, next_step
from enrollment.selfservice.forms import GoPinForm, GoSetPasswordForm, sign_in_step
from enrollment.services.account_enrollment import do_issue_account_token
from enrollment.services.pins import do_set_registration_password, verify_pin
from enrollment.services.policies import policy_for
from users.models import User

CALLBACK_SCHEME = "apple-remotemanagement-user-login"
# A flow's scope within its session key: one per mode, so an adde and a byod sign-in in one
# browser do not mix.
_SCOPES = {AccountEnrollmentMode.ADDE: 1, AccountEnrollmentMode.BYOD: 2}


@dataclass
class AccountFlow(GoFlow):
    """`GoFlow` under its own session key; `link_id` holds the mode's scope."""

    session_key: ClassVar[str] = "mdm_account_flow"


class AuthenticationResult(HttpResponseRedirectBase):
    """Apple's end of the web flow: a 308 to the callback scheme (Django's redirects refuse
    any scheme but http, https and ftp)."""

    status_code = 308
    allowed_schemes: ClassVar[list[str]] = [CALLBACK_SCHEME]


def _flow(request: HttpRequest, mode: str) -> AccountFlow:
    if mode not in _SCOPES:
        raise Http404
    return AccountFlow.load_scoped(request.session, _SCOPES[mode], request.tenant.id)


def _url(name: str, request: HttpRequest, mode: str) -> str:
    return reverse(name, kwargs={"tenant_slug": request.tenant.slug, "mode": mode})


@require_http_methods(["GET", "POST"])
def account_sign_in(request: HttpRequest, tenant_slug: str, mode: str) -> HttpResponse:
    flow = _flow(request, mode)
    identifier = request.GET.get("user-identifier", "")[:254]
    if identifier and "@" in identifier:
        flow.email = identifier
    flow.save(request.session)
    form, proved = sign_in_step(request, request.tenant, flow)
    if proved:
        return _continue(request, mode, flow)
    return render(request, "go/sign_in.html", {
        "form": form, "platform": "", "waiting_for_password": flow.pin_user,
        "pin_url": _url("apple-account-pin", request, mode),
    }, status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
def account_pin(request: HttpRequest, tenant_slug: str, mode: str) -> HttpResponse:
    flow = _flow(request, mode)
    known = flow.user()
    form = GoPinForm(request.POST or None,
                     initial={"email": known.email if known else flow.email})
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        user = User.objects.for_tenant(request.tenant).filter(email__iexact=email).first()
        check = verify_pin(request.tenant, user, form.cleaned_data["pin"],
                           origin=Origin.of(request), email=email)
        if check.ok:
            flow.proved_pin(user)
            flow.save(request.session)
            return _continue(request, mode, flow)
        form.add_error(None, check.message)
    return render(request, "go/pin.html", {
        "form": form, "known": known, "sign_in_url": _url("apple-account-sign-in", request, mode),
    }, status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
def account_password(request: HttpRequest, tenant_slug: str, mode: str) -> HttpResponse:
    flow = _flow(request, mode)
    user = flow.user()
    if user is None or next_step(policy_for(request.tenant), user, flow) != "set_password":
        return redirect(_url("apple-account-sign-in", request, mode))
    form = GoSetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        do_set_registration_password(request.tenant, user, form.cleaned_data["new_password1"],
                                     origin=Origin.of(request))
        flow.proved_password(user)
        flow.save(request.session)
        return _continue(request, mode, flow)
    return render(request, "go/set_password.html", {"form": form, "user": user},
                  status=400 if request.method == "POST" else 200)


def _continue(request: HttpRequest, mode: str, flow: AccountFlow) -> HttpResponse:
    user = flow.user()
    if user is None:
        return redirect(_url("apple-account-sign-in", request, mode))
    step = next_step(policy_for(request.tenant), user, flow)
    if step == "sign_in":
        messages.info(request, "PIN accepted. Now sign in with your password.")
        return redirect(_url("apple-account-sign-in", request, mode))
    if step == "pin":
        return redirect(_url("apple-account-pin", request, mode))
    if step == "set_password":
        return redirect(_url("apple-account-password", request, mode))
    if flow.pin_user == user.pk:  # a password sign-in was audited by `sign_in` already
        record(request.tenant, AuditAction.LOGIN_SUCCEEDED, actor=user, user=user,
               origin=Origin.of(request), detail={"via": "account-driven enrollment PIN"})
    raw = do_issue_account_token(request.tenant, user, mode, origin=Origin.of(request))
    AccountFlow.clear(request.session)
    query = urlencode({"access-token": raw})
    return AuthenticationResult(f"{CALLBACK_SCHEME}://authentication-results?{query}")
