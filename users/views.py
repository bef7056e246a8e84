"""Sign-in and sign-out for both portals, and Settings > API tokens."""

from __future__ import annotations

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
from users.forms import ApiTokenForm, SignInForm
from users.models import ApiToken
from users.services.accounts import SignInError, do_create_api_token, do_revoke_api_token, sign_in


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
            login(request, user, backend="users.auth.TenantEmailBackend")
            return redirect(safe_next(request, reverse(home, args=[request.tenant.slug])))
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
