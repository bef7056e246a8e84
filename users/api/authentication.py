"""API authentication: `Authorization: Bearer <token>` (tenant from the token), or an admin's
portal session (tenant from the user). Either way `request.tenant` is set."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from users.models import ApiToken
from users.models.api_tokens import hash_token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw or " " in raw:
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        token = (
            ApiToken.objects.select_related("tenant", "created_by")
            .filter(key_hash=hash_token(raw), revoked_at__isnull=True, tenant__is_active=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        request._request.tenant = token.tenant
        return (token.created_by, token)

    def authenticate_header(self, request) -> str:
        return self.keyword


class AdminSessionAuthentication(authentication.SessionAuthentication):
    """A signed-in tenant admin can use the API from the browser (docs page), CSRF enforced."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if not user.is_tenant_admin or not user.tenant.is_active:
            return None  # a deactivated organization's sessions open nothing, as its tokens
        if user.password_change_due:
            return None  # nor a session whose password was reset to a temporary one
        request._request.tenant = user.tenant
        return (user, None)
