"""Authentication backend: email + password within one tenant (emails are unique per tenant)."""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from .models import User


class TenantEmailBackend(BaseBackend):
    def authenticate(self, request, tenant=None, email=None, password=None, **kwargs):
        if tenant is None or not email or not password:
            return None
        user = User.objects.filter(tenant=tenant, email__iexact=email.strip()).first()
        if user is None:
            User().set_password(password)  # same cost as a real check: no user enumeration
            return None
        if user.is_active and user.check_password(password):
            return user
        return None

    def get_user(self, user_id):
        return User.objects.select_related("tenant").filter(pk=user_id, is_active=True).first()
