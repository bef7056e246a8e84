"""Android devices enrolled through AMAPI: Google's view of each device (one row per AMAPI
device name, next to its `Device`), the Pub/Sub messages already applied (dedupe), and the
commands sent to devices (AMAPI long-running operations)."""

from __future__ import annotations

from django.db import models

from tenants.models import TenantOwned


class AndroidDevice(TenantOwned):
    device = models.OneToOneField("devices.Device", on_delete=models.CASCADE,
                                  related_name="android")
    enterprise = models.ForeignKey("enrollment.AndroidEnterprise", on_delete=models.CASCADE,
                                   related_name="devices")
    amapi_name = models.CharField(max_length=255)  # enterprises/x/devices/y
    amapi_state = models.CharField(max_length=40, blank=True)
    applied_state = models.CharField(max_length=40, blank=True)
    management_mode = models.CharField(max_length=40, blank=True)  # DEVICE_OWNER/PROFILE_OWNER
    ownership = models.CharField(max_length=40, blank=True)  # COMPANY_OWNED/PERSONALLY_OWNED
    android_version = models.CharField(max_length=32, blank=True)
    api_level = models.PositiveIntegerField(null=True, blank=True)
    security_patch_level = models.CharField(max_length=32, blank=True)
    enterprise_specific_id = models.CharField(max_length=128, blank=True)
    previous_device_names = models.JSONField(default=list, blank=True)
    policy_name = models.CharField(max_length=255, blank=True)
    applied_policy_name = models.CharField(max_length=255, blank=True)
    policy_compliant = models.BooleanField(null=True, blank=True)
    enrollment_token_data = models.CharField(max_length=255, blank=True)
    enrollment_time = models.DateTimeField(null=True, blank=True)
    last_status_report_time = models.DateTimeField(null=True, blank=True)
    # publishTime of the newest notification applied: older ones arrive late and are ignored.
    last_publish_time = models.DateTimeField(null=True, blank=True)
    # The last Device resource Google sent (notification or devices.list), as received.
    last_report = models.JSONField(default=dict, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)  # gone from Google
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "amapi_name"],
                                               name="android_device_name_unique")]
        indexes = [
            models.Index(fields=["tenant", "enterprise_specific_id"]),
            models.Index(fields=["enterprise", "removed_at"]),
        ]

    def __str__(self) -> str:
        return self.amapi_name


class EndedAndroidDeviceName(TenantOwned):
    """An AMAPI device name that is over: its device was deleted here by an admin, Google
    reported it DELETED before we knew it, or a re-registration (Android 9 and older) moved
    its entry to a new name. Notifications arrive late and out of order, and devices.list
    keeps old names for a while: none about such a name may enroll it again (a device that
    enrolls anew gets a new name)."""

    amapi_name = models.CharField(max_length=255)
    ended_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "amapi_name"],
                                               name="ended_android_device_name_unique")]

    def __str__(self) -> str:
        return self.amapi_name


class ProcessedPubSubMessage(TenantOwned):
    """A Pub/Sub message already applied: delivery is at-least-once, so each messageId is
    applied once per enterprise's push endpoint."""

    enterprise = models.ForeignKey("enrollment.AndroidEnterprise", on_delete=models.CASCADE,
                                   related_name="+")
    message_id = models.CharField(max_length=128)
    notification_type = models.CharField(max_length=40, blank=True)
    publish_time = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enterprise", "message_id"],
                                               name="android_pubsub_message_once")]
        indexes = [models.Index(fields=["processed_at"])]


class AndroidOperationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired (not acknowledged in time)"


class AndroidOperation(TenantOwned):
    """One `issueCommand` (lock, reboot, reset password, wipe, relinquish ownership), followed
    to completion through COMMAND notifications and `operations.get`."""

    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE,
                               related_name="android_operations")
    name = models.CharField(max_length=300, unique=True)  # .../devices/y/operations/z
    command_type = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=AndroidOperationStatus.choices,
                              default=AndroidOperationStatus.PENDING)
    error = models.CharField(max_length=300, blank=True)
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.command_type} {self.name}"
