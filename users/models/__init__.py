"""Models of the users app, one module per concept."""

from tenants.models import Tenant
from users.models.api_tokens import ApiToken
from users.models.ldap import LdapConnector, LdapSyncStatus
from users.models.users import User, UserRole, UserSource

__all__ = [
    "ApiToken", "LdapConnector", "LdapSyncStatus", "Tenant", "User", "UserRole", "UserSource",
]
