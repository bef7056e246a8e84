"""Registration reminders (SPEC S13): the tenant's cadence, and one row per reminder sent.

A reminder is claimed by inserting its (registration, slot) row: the unique constraint is what
keeps two beat schedulers, or a retried task, from ever sending the same reminder twice.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenants.models import TenantOwned


class ReminderPolicy(TenantOwned):
    """Per tenant: remind every `interval_minutes` after the registration started (profile
    downloaded, or app registered), at most `max_reminders` times."""

    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=240)
    max_reminders = models.PositiveSmallIntegerField(default=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"],
                                               name="one_reminder_policy_per_tenant")]

    def __str__(self) -> str:
        return f"reminders every {self.interval_minutes} min, at most {self.max_reminders}"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Claimed"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Not delivered"
    NO_CHANNEL = "no_channel", "No way to reach the user"
    SKIPPED = "skipped", "Not needed (enrolled or expired meanwhile)"


class Reminder(TenantOwned):
    registration = models.ForeignKey("enrollment.Registration", on_delete=models.CASCADE,
                                     related_name="reminders")
    slot = models.PositiveSmallIntegerField()  # 1 = first reminder, 2 = second...
    status = models.CharField(max_length=12, choices=ReminderStatus.choices,
                              default=ReminderStatus.PENDING)
    channels = models.JSONField(default=list, blank=True)  # e.g. ["app_apns", "email"]
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["registration", "slot"],
                                               name="reminder_once_per_slot")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"reminder {self.slot} of registration {self.registration_id}"
