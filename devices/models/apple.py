"""Apple MDM storage: the MDM channels of each device.

A channel is what NanoMDM calls an enrollment: the device channel (id = UDID) and, on macOS,
one user channel per accepted user (id = ``UDID:UserID``). Each holds its push credentials.
"""

from django.db import models

from tenants.models import TenantOwned


class AppleChannel(TenantOwned):
    UNLOCK_TOKEN_PURPOSE = "apple-unlock-token"
    BOOTSTRAP_TOKEN_PURPOSE = "apple-bootstrap-token"

    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE,
                               related_name="apple_channels")
    channel_id = models.CharField(max_length=300)
    is_user_channel = models.BooleanField(default=False)
    user_guid = models.CharField(max_length=128, blank=True)  # Apple's UserID (user channels)
    user_short_name = models.CharField(max_length=128, blank=True)
    user_long_name = models.CharField(max_length=200, blank=True)
    # Device channel: the identity certificate bound at Authenticate; only it may speak here.
    certificate = models.ForeignKey("enrollment.IssuedCertificate", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    registration = models.ForeignKey("enrollment.Registration", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    # The identity a renewal replaced: still accepted until ``previous_certificate_until``
    # (the tenant's grace period), then revoked as superseded.
    previous_certificate = models.ForeignKey("enrollment.IssuedCertificate", null=True,
                                             blank=True, on_delete=models.SET_NULL,
                                             related_name="+")
    previous_certificate_until = models.DateTimeField(null=True, blank=True)
    topic = models.CharField(max_length=255, blank=True)
    push_token = models.BinaryField(null=True, blank=True)
    push_magic = models.CharField(max_length=128, blank=True)
    unlock_token_encrypted = models.BinaryField(null=True, blank=True)
    bootstrap_token_encrypted = models.BinaryField(null=True, blank=True)
    # Enabled by TokenUpdate; Authenticate and CheckOut disable (NanoMDM semantics).
    enabled = models.BooleanField(default=False)
    authenticated_at = models.DateTimeField(null=True, blank=True)
    token_updated_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["is_user_channel", "created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "channel_id"],
                                               name="apple_channel_unique_in_tenant")]
        indexes = [
            models.Index(fields=["device", "is_user_channel"]),
            models.Index(fields=["previous_certificate_until"],
                         condition=models.Q(previous_certificate_until__isnull=False),
                         name="apple_channel_grace_until"),
        ]

    def __str__(self) -> str:
        return self.channel_id
