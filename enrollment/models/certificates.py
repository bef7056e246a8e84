"""Certificates the tenant CA issued over SCEP, with their revocation state."""

from django.db import models
from django.utils import timezone

from tenants.models import TenantOwned


class RevocationReason(models.TextChoices):
    UNSPECIFIED = "unspecified", "Unspecified"
    KEY_COMPROMISE = "key_compromise", "Key compromise"
    SUPERSEDED = "superseded", "Superseded"
    CESSATION = "cessation_of_operation", "Device retired"


class IssuedCertificate(TenantOwned):
    authority = models.ForeignKey("enrollment.CertificateAuthority", on_delete=models.PROTECT,
                                  related_name="issued")
    # Random 159-bit serial as lowercase hex; unique per CA by constraint, so two concurrent
    # issuances can never share one (the insert of the loser fails and it draws again).
    serial_hex = models.CharField(max_length=40)
    subject = models.CharField(max_length=500)
    common_name = models.CharField(max_length=200, blank=True)
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    certificate_der = models.BinaryField()
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    challenge = models.OneToOneField("enrollment.Challenge", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="certificate")
    renewed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="renewals")
    device = models.ForeignKey("devices.Device", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="certificates")
    transaction_id = models.CharField(max_length=128, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=30, choices=RevocationReason.choices,
                                         blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["authority", "serial_hex"],
                                    name="certificate_serial_unique_per_ca"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["tenant", "common_name"]),
            models.Index(fields=["tenant", "revoked_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.common_name or self.subject} ({self.serial_hex[:12]}…)"

    @property
    def is_valid_now(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and self.not_before <= now < self.not_after
