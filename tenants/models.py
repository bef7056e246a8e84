"""The tenant: the unit of isolation every other row belongs to (SPEC R1).

"Missing" and "not yours" always give the same answer: 404 (`get_in_tenant`).

The model keeps the ``users`` app label it was created under, so its table (``users_tenant``)
and the migration history every foreign key to it depends on stay as they are: the layer moved,
the data did not. Its migrations stay in ``users/migrations``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.validators import RegexValidator
from django.db import models
from django.http import Http404

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and inner hyphens.",
)


class Tenant(models.Model):
    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # First-run startup wizard: the step to resume at, and when it was finished or skipped.
    setup_step = models.CharField(max_length=20, default="organization")
    setup_completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "users"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
