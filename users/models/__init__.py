"""Models of the users app, one module per concept."""

from .api_tokens import ApiToken
from .ldap import LdapConnector, LdapSyncStatus
from .tenants import Tenant
from .users import User, UserRole, UserSource

__all__ = [
    "ApiToken", "LdapConnector", "LdapSyncStatus", "Tenant", "User", "UserRole", "UserSource",
]
