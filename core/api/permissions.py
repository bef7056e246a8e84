"""Who may call the API: a valid token or an admin session; both carry a tenant."""

from rest_framework.permissions import BasePermission


class IsTenantAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        return getattr(request._request, "tenant", None) is not None and (
            request.auth is not None or getattr(request.user, "is_tenant_admin", False)
        )
