"""Account-driven enrollment (Apple): the organization's managed domains and the one-time
access tokens its web sign-in hands to a device.

A user typing ``name@example.com`` in Settings > VPN & Device Management makes the device ask
``https://example.com/.well-known/com.apple.remotemanagement``; a ``ManagedDomain`` says which
tenant answers for ``example.com``. A domain belongs to one tenant at most, across the server.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenants.models import TenantOwned


class AccountEnrollmentMode(models.TextChoices):
    """Apple's two account-driven flavours: the `Version` of the discovery answer."""

    ADDE = "adde", "Account-driven Device Enrollment"
    BYOD = "byod", "Account-driven User Enrollment (BYOD)"


class ManagedDomain(TenantOwned):
    # Lower-cased, no trailing dot; unique over all tenants (discovery picks the tenant by it).
    domain = models.CharField(max_length=253, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey("users.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["domain"]
        indexes = [models.Index(fields=["tenant", "domain"])]

    def __str__(self) -> str:
        return self.domain


class AccountEnrollmentToken(TenantOwned):
    """What the sign-in page redirects to the device (`access-token`), stored as SHA-256; the
    device presents it once as `Authorization: Bearer` to get its enrollment profile."""

    user = models.ForeignKey("users.User", on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=4, choices=AccountEnrollmentMode.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    registration = models.OneToOneField("enrollment.Registration", null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"account enrollment token {self.pk} ({self.mode})"

    @property
    def is_live(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()
