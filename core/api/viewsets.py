"""Base viewsets: every queryset starts from the request's tenant, so foreign ids are 404."""

from __future__ import annotations

from rest_framework import mixins, viewsets


class TenantScopedMixin:
    """Declare `queryset`; `get_queryset` narrows it to the caller's tenant."""

    def get_queryset(self):
        return super().get_queryset().for_tenant(self.request._request.tenant)

    @property
    def tenant(self):
        return self.request._request.tenant

    @property
    def actor(self):
        return self.request.auth or self.request.user


class TenantReadOnlyViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    pass


class TenantModelViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    pass
