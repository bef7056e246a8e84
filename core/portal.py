"""Admin-portal and self-service-portal access: the signed-in user must belong to the tenant
in the URL (and be an admin for the admin portal); anyone else is sent to that tenant's login."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse


def _belongs(request: HttpRequest) -> bool:
    user = request.user
    return bool(
        user.is_authenticated and request.tenant is not None and user.tenant_id == request.tenant.id
    )


def _to_login(request: HttpRequest, name: str):
    url = reverse(name, kwargs={"tenant_slug": request.tenant.slug})
    return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


def _password_change_due(request: HttpRequest) -> bool:
    """A session whose user now has a temporary password (an admin reset it after they
    signed in) opens nothing: signed out, the next sign-in asks for a new password."""
    if not request.user.password_change_due:
        return False
    logout(request)
    return True


def admin_required(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not (_belongs(request) and request.user.is_tenant_admin) or \
                _password_change_due(request):
            return _to_login(request, "portal:login")
        return view(request, *args, **kwargs)

    return wrapper


def end_user_required(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not (_belongs(request) and request.user.is_active) or _password_change_due(request):
            return _to_login(request, "selfservice:login")
        return view(request, *args, **kwargs)

    return wrapper


def safe_next(request: HttpRequest, default: str) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


PAGE_SIZE = 50


def paginate(request: HttpRequest, queryset, paginator_class=None) -> dict:
    """`page` (50 rows) and `query` (the current filters without `page`, for the page links
    in templates/pagination.html): the context every portal list page needs.
    `paginator_class`: e.g. `core.pagination.IdsFirstPaginator` for very long lists."""
    from django.core.paginator import Paginator

    query = request.GET.copy()
    query.pop("page", None)
    paginator = (paginator_class or Paginator)(queryset, PAGE_SIZE)
    return {"page": paginator.get_page(request.GET.get("page")), "query": query.urlencode()}
