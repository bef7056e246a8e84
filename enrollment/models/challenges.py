"""One-time, expiring SCEP challenges (SPEC S5: the enrollment profile's few-minute window)."""

from django.db import models
from django.utils import timezone

from tenants.models import TenantOwned


class Challenge(TenantOwned):
    # SHA-256 of the challenge password: the plain value only lives in the profile it went into.
    challenge_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Free-form until the registration model lands; then registrations bind through this id.
    purpose = models.CharField(max_length=100, blank=True)
    # The common name a CSR must carry to spend the challenge; empty: any. A renewal's
    # challenge names its device, so it cannot get another name certified.
    common_name = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey("users.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "expires_at"])]

    def __str__(self) -> str:
        return f"challenge {self.pk}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
