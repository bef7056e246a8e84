"""Invitation: one registration invitation sent to one user (SPEC S1, S8, S11, S12).

pending (created, email queued) -> sent -> opened -> used, or expired / revoked (a resend
replaces it). Only a SHA-256 of the invitation token is stored; the emailed URL carries it.
"""

from __future__ import annotations

from django.db import models

from tenants.models import TenantOwned


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    OPENED = "opened", "Opened"
    USED = "used", "Used"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Replaced"


# An invitation in one of these states can still be opened and used.
LIVE_INVITATION_STATES = (InvitationStatus.PENDING, InvitationStatus.SENT, InvitationStatus.OPENED)


class InvitationChannel(models.TextChoices):
    EMAIL = "email", "Email"


class Invitation(TenantOwned):
    user = models.ForeignKey("users.User", on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=InvitationStatus.choices,
                              default=InvitationStatus.PENDING)
    channel = models.CharField(max_length=10, choices=InvitationChannel.choices,
                               default=InvitationChannel.EMAIL)
    pin = models.ForeignKey("enrollment.RegistrationPin", null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="+")
    sent_by = models.ForeignKey("users.User", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    sent_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["tenant", "user", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk} ({self.status})"
