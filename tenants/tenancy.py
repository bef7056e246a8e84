"""Request-level tenant resolution: the portals' `/t/<tenant_slug>/...` (a short per-process
cache of slugs), the middleware setting `request.tenant`, the templates' context."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from core.process_cache import ProcessCache
from tenants.models import Tenant

TENANT_CACHE_SECONDS = 30
_tenants_by_slug: ProcessCache[Tenant | None] = ProcessCache(TENANT_CACHE_SECONDS)


def tenant_by_slug(slug: str) -> Tenant | None:
    """The active tenant with this slug. Every portal, device and app request starts here, so
    lookups are kept per process for a few seconds (a saved tenant is dropped at once in this
    process; other processes see a deactivation within TENANT_CACHE_SECONDS)."""
    return _tenants_by_slug.get(
        slug, lambda: Tenant.objects.filter(slug=slug, is_active=True).first())


def forget_tenant(sender=None, instance=None, **kwargs) -> None:
    _tenants_by_slug.forget(None if instance is None else instance.slug)


class TenantMiddleware:
    """Set `request.tenant` from the `tenant_slug` URL kwarg (portal URLs); unknown slug: 404.

    API requests get their tenant from the token in `users.api.authentication`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request.tenant = None
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("tenant_slug")
        if slug is not None:
            set_request_tenant(request, slug)
        return None


def set_request_tenant(request: HttpRequest, slug: str) -> None:
    """``request.tenant`` from a URL's slug; an unknown or inactive organization is a 404."""
    tenant = tenant_by_slug(slug)
    if tenant is None:
        raise Http404("Unknown organization.")
    request.tenant = tenant


def tenant_context(request: HttpRequest) -> dict:
    return {"tenant": getattr(request, "tenant", None)}
