"""A tenant's identity renewal policy: when device identities are renewed, how fast, and how
long the identity a renewal replaced still speaks for its device (issue 16)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models import TenantOwned


class IdentityRenewalPolicy(TenantOwned):
    """Unsaved defaults until the admin changes them (``renewal_policy(tenant)``)."""

    renew_days_before = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(300)],
        help_text="Renew a device identity this many days before it expires.")
    max_per_minute = models.PositiveIntegerField(
        default=100, validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="At most this many devices are sent a renewal per minute.")
    grace_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(0), MaxValueValidator(90)],
        help_text="The replaced identity is still accepted this many days after a renewal.")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"],
                                               name="one_identity_renewal_policy_per_tenant")]

    def __str__(self) -> str:
        return f"identity renewal policy of tenant {self.tenant_id}"
