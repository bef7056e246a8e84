"""The MDM command queue: one row per command sent to one channel, with its result."""

from django.db import models

from tenants.models import TenantOwned


class CommandStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ERROR = "error", "Error"
    COMMAND_FORMAT_ERROR = "command_format_error", "Command format error"
    NOT_NOW = "not_now", "Not now"
    CANCELLED = "cancelled", "Cancelled"


# Still waiting for a final answer from the device.
PENDING_STATUSES = (CommandStatus.QUEUED, CommandStatus.NOT_NOW)


class Command(TenantOwned):
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE,
                               related_name="commands")
    channel = models.ForeignKey("devices.AppleChannel", on_delete=models.CASCADE,
                                related_name="commands")
    command_uuid = models.CharField(max_length=64, unique=True)
    request_type = models.CharField(max_length=100)
    # What was asked, JSON-safe for the portal and the API (data values as base64).
    payload = models.JSONField(default=dict, blank=True)
    command_plist = models.BinaryField()  # exactly what the device fetches
    status = models.CharField(max_length=25, choices=CommandStatus.choices,
                              default=CommandStatus.QUEUED)
    result_plist = models.BinaryField(null=True, blank=True)  # the device's raw answer
    result = models.JSONField(null=True, blank=True)
    error_chain = models.JSONField(default=list, blank=True)
    delivered_count = models.PositiveIntegerField(default=0)
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["channel", "status", "created_at"]),
            models.Index(fields=["tenant", "device", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.request_type} {self.command_uuid}"

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING_STATUSES
