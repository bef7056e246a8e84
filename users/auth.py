"""Authentication backend: email + password within one tenant (emails are unique per tenant).

Local accounts check the stored password hash. Directory accounts (source=ldap) bind to the
tenant's LDAP server as their DN with the password given ("network credentials"); nothing of it
is stored. When no LDAP server answers, `DirectoryUnreachable` propagates to `sign_in`, which
tells the user instead of failing with a 500.
"""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from users.ldap.client import LdapClient, LdapConfigError, LdapUnavailable
from users.models import LdapConnector, User, UserSource


class DirectoryUnreachable(Exception):
    """The account lives in LDAP and no directory server answered."""


class TenantEmailBackend(BaseBackend):
    def authenticate(self, request, tenant=None, email=None, password=None, **kwargs):
        if tenant is None or not email or not password:
            return None
        user = User.objects.filter(tenant=tenant, email__iexact=email.strip()).first()
        if user is None:
            User().set_password(password)  # same cost as a real check: no user enumeration
            return None
        if not user.is_active:
            return None
        if user.source == UserSource.LDAP:
            return user if _directory_accepts(tenant, user, password) else None
        return user if user.check_password(password) else None

    def get_user(self, user_id):
        return User.objects.select_related("tenant").filter(pk=user_id, is_active=True).first()


def _directory_accepts(tenant, user: User, password: str) -> bool:
    connector = LdapConnector.objects.for_tenant(tenant).first()
    if connector is None or not connector.is_enabled or not user.ldap_dn:
        return False
    try:
        return LdapClient(connector.client_settings()).verify_credentials(user.ldap_dn, password)
    except LdapUnavailable as exc:
        raise DirectoryUnreachable(str(exc)) from None
    except LdapConfigError:
        return False
