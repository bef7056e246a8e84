"""Sign-in and sign-out for both portals, and Settings > API tokens."""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.events import AuditAction
from audit.record import record
from core.origin import Origin
from core.portal import admin_required, safe_next
from users.forms import ApiTokenForm, NewPasswordForm, SignInForm
from users.models import ApiToken, User
from users.services.accounts import (
    SignInError,
    do_create_api_token,
    do_revoke_api_token,
    do_set_own_password,
    sign_in,
)

PASSWORD_CHANGE_SESSION_KEY = "mdm_password_change"  # signed in with a temporary password
PASSWORD_CHANGE_SECONDS = 10 * 60
HOMES = {"portal": "portal:dashboard", "selfservice": "selfservice:home"}


def _portal(request: HttpRequest) -> str:
    return "portal" if request.resolver_match.namespace == "portal" else "selfservice"


def _sign_in_view(request: HttpRequest, *, admin: bool, template: str, home: str) -> HttpResponse:
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = sign_in(request.tenant, form.cleaned_data["email"],
                           form.cleaned_data["password"], require_admin=admin,
                           origin=Origin.of(request))
        except SignInError as exc:
            form.add_error(None, str(exc))
        else:
            target = safe_next(request, reverse(home, args=[request.tenant.slug]))
            if user.password_change_due:
                # Not signed in yet: only the password page opens with a temporary password.
                request.session[PASSWORD_CHANGE_SESSION_KEY] = {
                    "user": user.pk, "tenant": request.tenant.id, "since": time.time(),
                    "next": target}
                return redirect(f"{_portal(request)}:password-change",
                                tenant_slug=request.tenant.slug)
            login(request, user, backend="users.auth.TenantEmailBackend")
            return redirect(target)
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, "next": request.GET.get("next", "")},
                  status=status)


@require_http_methods(["GET", "POST"])
def admin_login(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    return _sign_in_view(request, admin=True, template="portal/login.html", home="portal:dashboard")


@require_http_methods(["GET", "POST"])
def selfservice_login(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    return _sign_in_view(request, admin=False, template="selfservice/login.html",
                         home="selfservice:home")


def _pending_password_change(request: HttpRequest) -> tuple[User | None, str]:
    """The user who just signed in with a temporary password here (this tenant, this portal,
    within 10 minutes), and where they were going."""
    pending = request.session.get(PASSWORD_CHANGE_SESSION_KEY)
    if not isinstance(pending, dict) or pending.get("tenant") != request.tenant.id:
        return None, ""
    if not isinstance(pending.get("since"), (int, float)) or \
            time.time() - pending["since"] > PASSWORD_CHANGE_SECONDS:
        return None, ""
    user = User.objects.for_tenant(request.tenant).filter(pk=pending.get("user"),
                                                          is_active=True).first()
    if user is None or not user.password_change_due or (
            _portal(request) == "portal" and not user.is_tenant_admin):
        return None, ""
    return user, str(pending.get("next") or "")


@require_http_methods(["GET", "POST"])
def change_temporary_password(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """After a sign-in with a temporary password: choose a new one, then signed in."""
    user, target = _pending_password_change(request)
    portal = _portal(request)
    if user is None:
        request.session.pop(PASSWORD_CHANGE_SESSION_KEY, None)
        return redirect(f"{portal}:login", tenant_slug=tenant_slug)
    form = NewPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        do_set_own_password(request.tenant, user, form.cleaned_data["new_password1"],
                            origin=Origin.of(request))
        request.session.pop(PASSWORD_CHANGE_SESSION_KEY, None)
        login(request, user, backend="users.auth.TenantEmailBackend")
        return redirect(target or reverse(HOMES[portal], args=[tenant_slug]))
    return render(request, "users/password_change.html", {
        "form": form, "person": user,
        "base_template": "base.html" if portal == "portal" else "selfservice/base.html",
    }, status=400 if request.method == "POST" else 200)


@require_POST
def sign_out(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    if request.user.is_authenticated and request.user.tenant_id == request.tenant.id:
        record(request.tenant, AuditAction.LOGOUT, actor=request.user, user=request.user,
               origin=Origin.of(request))
    logout(request)
    target = "portal:login" if request.resolver_match.namespace == "portal" else "selfservice:login"
    return redirect(target, tenant_slug=tenant_slug)


@admin_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        new_token = do_create_api_token(request.tenant, form.cleaned_data["name"],
                                        actor=request.user).raw
        form = ApiTokenForm()
    tokens = ApiToken.objects.for_tenant(request.tenant).select_related("created_by")
    return render(request, "portal/api_tokens.html",
                  {"form": form, "tokens": tokens, "new_token": new_token})


@admin_required
@require_POST
def revoke_api_token(request: HttpRequest, tenant_slug: str, token_id: int) -> HttpResponse:
    token = ApiToken.objects.get_in_tenant(request.tenant, pk=token_id)
    do_revoke_api_token(request.tenant, token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("portal:api-tokens", tenant_slug=tenant_slug)
