"""RegistrationPin: a one-time PIN for the /go sign-in (SPEC S16).

Only a hash is stored (PBKDF2 over an HMAC keyed with the server secret, see
`enrollment.services.pins`). Single use, expiring, attempt-limited; at most one live PIN per
user, so issuing a new one first revokes the old.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenants.models import TenantOwned


class RegistrationPin(TenantOwned):
    user = models.ForeignKey("users.User", on_delete=models.CASCADE, related_name="+")
    pin_hash = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    max_attempts = models.PositiveSmallIntegerField(default=5)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("users.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], name="registration_pin_one_live_per_user",
                condition=models.Q(used_at=None, locked_at=None, revoked_at=None)),
        ]
        indexes = [models.Index(fields=["tenant", "user", "-created_at"])]

    def __str__(self) -> str:
        return f"PIN for user {self.user_id} ({self.status})"

    @property
    def status(self) -> str:
        if self.used_at:
            return "used"
        if self.locked_at:
            return "locked"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "live"
