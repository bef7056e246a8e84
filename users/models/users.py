"""Accounts: admins and end users of one tenant. The email is the username within a tenant."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower

from tenants.models import TenantQuerySet


class UserRole(models.TextChoices):
    ADMIN = "admin", "Administrator"
    USER = "user", "End user"


class UserSource(models.TextChoices):
    LOCAL = "local", "Local"
    LDAP = "ldap", "LDAP"


class UserQuerySet(TenantQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    def create_user(self, tenant, email: str, password: str | None = None, **fields) -> User:
        user = self.model(tenant=tenant, email=self.normalize_email(email).lower(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    tenant = models.ForeignKey("users.Tenant", on_delete=models.CASCADE, related_name="users")
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=UserRole.choices, default=UserRole.USER)
    source = models.CharField(max_length=10, choices=UserSource.choices, default=UserSource.LOCAL)
    is_active = models.BooleanField(default=True)
    # The admin set a temporary password: the user must choose a new one at first sign-in.
    must_change_password = models.BooleanField(default=False)
    # Always ask this user for a one-time PIN before registering (SPEC S16), whatever the
    # tenant's policy says.
    require_registration_pin = models.BooleanField(default=False)
    # Directory accounts (source=ldap): the entry's stable id (entryUUID/objectGUID) and its DN,
    # which sign-in binds as. Empty for local accounts.
    external_id = models.CharField(max_length=255, blank=True, default="")
    ldap_dn = models.TextField(blank=True, default="")
    # Set when the LDAP sync disabled the account because its entry left the directory; only
    # such accounts are re-enabled when the entry returns (an admin's own disabling sticks).
    ldap_missing_since = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("email"), name="user_email_unique_in_tenant"),
            # Also the index the LDAP sync matches entries on.
            models.UniqueConstraint(fields=["tenant", "external_id"],
                                    condition=~models.Q(external_id=""),
                                    name="user_external_id_unique_in_tenant"),
        ]
        indexes = [models.Index(fields=["tenant", "role"])]

    def audit_actor(self) -> tuple[User, str]:
        """How audit events name this user when they act (see audit.record)."""
        return self, self.email

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def password_change_due(self) -> bool:
        """Signed in with a temporary password the admin set: nothing opens until the user
        has chosen their own. Directory accounts keep their network password."""
        return self.must_change_password and self.source == UserSource.LOCAL

    @property
    def is_tenant_admin(self) -> bool:
        return self.is_active and self.role == UserRole.ADMIN
