"""Identity renewals: a managed Apple device sent a re-enrollment profile before its MDM
identity certificate expires (issue 16). One row per attempt; at most one attempt of a device
is pending at a time (constraint)."""

from django.db import models
from django.utils import timezone

from tenants.models import TenantOwned


class RenewalState(models.TextChoices):
    PENDING = "pending", "Waiting for the device"
    COMPLETED = "completed", "Renewed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RenewalReason(models.TextChoices):
    EXPIRING = "expiring", "Identity expiring"
    REQUESTED = "requested", "Renew now (admin)"


class IdentityRenewal(TenantOwned):
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE,
                               related_name="identity_renewals")
    state = models.CharField(max_length=10, choices=RenewalState.choices,
                             default=RenewalState.PENDING)
    reason = models.CharField(max_length=10, choices=RenewalReason.choices)
    attempt = models.PositiveSmallIntegerField(default=1)  # consecutive attempts, from 1
    # The identity being replaced, and the one that replaced it.
    previous_certificate = models.ForeignKey("enrollment.IssuedCertificate", null=True,
                                             blank=True, on_delete=models.SET_NULL,
                                             related_name="+")
    new_certificate = models.ForeignKey("enrollment.IssuedCertificate", null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    # The renewal registration whose one-time challenge the profile carries.
    registration = models.OneToOneField("enrollment.Registration", null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="renewal")
    command = models.ForeignKey("devices.Command", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    requested_by_label = models.CharField(max_length=200, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    # When the scan that sent it started (its per-minute limit counts these), not the insert.
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()  # the attempt's window: its challenge ends with it
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["device"],
                                    condition=models.Q(state=RenewalState.PENDING),
                                    name="one_pending_identity_renewal_per_device"),
        ]
        indexes = [
            models.Index(fields=["tenant", "state", "expires_at"]),
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["device", "-created_at"]),
            models.Index(fields=["command"]),
        ]

    def __str__(self) -> str:
        return f"identity renewal {self.pk} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state == RenewalState.PENDING
