"""The device row: one per physical device per tenant, whatever channel it enrolled through."""

from django.db import models

from core.platforms import Platform
from tenants.models import TenantOwned


class DeviceState(models.TextChoices):
    """SPEC S20: Active (registered), Inactive (reset, shown inactive), Wiped, Reset (stays
    active on the server until the next registration); plus the admin's Retired and the
    enrolling state before the first TokenUpdate / Android ENROLLMENT."""

    PENDING = "pending", "Enrolling"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    WIPED = "wiped", "Wiped"
    RESET = "reset", "Reset"
    RETIRED = "retired", "Retired"


# The admin ended these: the device's old identity gets Apple's "unrecognized device" 403.
GONE_STATES = (DeviceState.RETIRED, DeviceState.WIPED)


class Device(TenantOwned):
    platform = models.CharField(max_length=10, choices=Platform.choices)
    state = models.CharField(max_length=10, choices=DeviceState.choices,
                             default=DeviceState.PENDING)
    owner = models.ForeignKey("users.User", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="devices")
    udid = models.CharField(max_length=128, blank=True)
    serial_number = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=100, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    product_name = models.CharField(max_length=100, blank=True)
    os_version = models.CharField(max_length=32, blank=True)
    build_version = models.CharField(max_length=32, blank=True)
    imei = models.CharField(max_length=32, blank=True)
    meid = models.CharField(max_length=32, blank=True)
    # The last DeviceInformation answers, as JSON (data values base64).
    device_information = models.JSONField(default=dict, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    # Apple: when the MDM identity certificate bound to the device channel expires (kept with
    # the binding), what the renewal scan, the dashboard and the devices filter read.
    identity_expires_at = models.DateTimeField(null=True, blank=True)
    # Apple User Enrollment (account-driven BYOD): a personal device known only by its
    # EnrollmentID (kept in ``udid``); only the commands Apple allows there are sent.
    user_enrollment = models.BooleanField(default=False)
    # A renewal was sent: none again before this (its window, then a back-off).
    renewal_retry_at = models.DateTimeField(null=True, blank=True)
    # An admin asked to renew now: the next scan sends it whatever the expiry.
    renewal_requested_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "udid"], condition=~models.Q(udid=""),
                name="device_udid_unique_in_tenant",
            ),
        ]
        # The Devices list (portal and API) filters and sorts 100,000s of rows per tenant: one
        # (tenant, column, id) index per sortable column serves both directions, a page's
        # OFFSET walks only the index (core.pagination) and a filter on that column.
        # benchmarks/devices_list.py measures them.
        indexes = [
            # Filters by platform, state and OS version (prefix: checked on the index entries,
            # so counting a filtered list never reads the table).
            models.Index(fields=["tenant", "platform", "state", "os_version"],
                         name="device_tenant_platform_state"),
            models.Index(fields=["tenant", "state", "id"], name="device_tenant_state_id"),
            models.Index(fields=["tenant", "owner"]),
            models.Index(fields=["tenant", "serial_number"]),
            models.Index(fields=["tenant", "created_at", "id"], name="device_tenant_created_id"),
            models.Index(fields=["tenant", "name", "id"], name="device_tenant_name_id"),
            models.Index(fields=["tenant", "platform", "id"], name="device_tenant_platform_id"),
            models.Index(fields=["tenant", "os_version", "id"], name="device_tenant_os_id"),
            models.Index(fields=["tenant", "enrolled_at", "id"], name="device_tenant_enrolled_id"),
            models.Index(fields=["tenant", "last_seen_at", "id"],
                         name="device_tenant_last_seen_id"),
            models.Index(fields=["tenant", "identity_expires_at", "id"],
                         name="device_tenant_identity_exp_id"),
            models.Index(fields=["tenant", "renewal_requested_at"],
                         condition=models.Q(renewal_requested_at__isnull=False),
                         name="device_renewal_requested"),
        ]

    def __str__(self) -> str:
        return self.name or self.serial_number or self.udid or f"device {self.pk}"

    @property
    def is_gone(self) -> bool:
        return self.state in GONE_STATES
