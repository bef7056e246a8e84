"""Tenant isolation: the tenant-scoped queryset every tenant-owned model uses, and the
request-level tenant resolution for the portals (`/t/<tenant_slug>/...`).

"Missing" and "not yours" always give the same answer: 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.http import Http404, HttpRequest

from .process_cache import ProcessCache

if TYPE_CHECKING:
    from users.models import Tenant

M = TypeVar("M", bound=models.Model)


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> TenantQuerySet:
        if tenant is None:
            raise ValueError("a tenant is required")
        return self.filter(tenant=tenant)

    def get_in_tenant(self, tenant: Tenant, **lookup: Any) -> models.Model:
        """The object matching `lookup` in `tenant`, or Http404 (missing or foreign alike)."""
        try:
            return self.for_tenant(tenant).get(**lookup)
        except (self.model.DoesNotExist, ValueError, TypeError):
            raise Http404(f"No {self.model._meta.verbose_name} matches the given query.") from None


class TenantOwned(models.Model):
    """Abstract base for every model that belongs to one tenant."""

    tenant = models.ForeignKey("users.Tenant", on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


TENANT_CACHE_SECONDS = 30
_tenants_by_slug: ProcessCache[Tenant | None] = ProcessCache(TENANT_CACHE_SECONDS)


def tenant_by_slug(slug: str) -> Tenant | None:
    """The active tenant with this slug. Every portal, device and app request starts here, so
    lookups are kept per process for a few seconds (a saved tenant is dropped at once in this
    process; other processes see a deactivation within TENANT_CACHE_SECONDS)."""
    from users.models import Tenant

    return _tenants_by_slug.get(
        slug, lambda: Tenant.objects.filter(slug=slug, is_active=True).first())


def forget_tenant(sender=None, instance=None, **kwargs) -> None:
    _tenants_by_slug.forget(None if instance is None else instance.slug)


class TenantMiddleware:
    """Set `request.tenant` from the `tenant_slug` URL kwarg (portal URLs); unknown slug: 404.

    API requests get their tenant from the token in `mdm_server.api.authentication`.
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
