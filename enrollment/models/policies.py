"""RegistrationPolicy: a tenant's rules for invitations and one-time PINs (SPEC S11, S12, S16).

One row per tenant, created with defaults the first time it is read (`policy_for`).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models import TenantOwned


class PinRequirement(models.TextChoices):
    # S16 makes a PIN mandatory for an account without a password, so there is no "never":
    # such a user would have no way to sign in.
    NO_PASSWORD = "no_password", "Only for accounts without a password"
    ALWAYS = "always", "Always (also after a correct password)"


class RegistrationPolicy(TenantOwned):
    pin_requirement = models.CharField(max_length=20, choices=PinRequirement.choices,
                                       default=PinRequirement.NO_PASSWORD)
    pin_length = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(6), MaxValueValidator(12)],
        help_text="Digits in a one-time PIN.")
    pin_validity_hours = models.PositiveIntegerField(
        default=72, validators=[MinValueValidator(1), MaxValueValidator(30 * 24)],
        help_text="A PIN expires this many hours after it was issued.")
    pin_max_attempts = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Wrong entries before the PIN is locked (the admin must send a new one).")
    invitation_validity_days = models.PositiveSmallIntegerField(
        default=14, validators=[MinValueValidator(1), MaxValueValidator(90)])
    email_temporary_password = models.BooleanField(
        default=False,
        help_text="Put the temporary password the administrator set in the invitation email "
                  "(S12). The user must change it at first sign-in.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "registration policies"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="registration_policy_one_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"registration policy of tenant {self.tenant_id}"
