"""Registration: one attempt by one user to bring one device under management (SPEC S5, S19).

started -> profile_downloaded -> certificate_issued -> enrolled, or expired / cancelled /
failed. Every change goes through `enrollment.services.registrations` (audited).
"""

from django.db import models
from django.utils import timezone

from core.platforms import Platform
from tenants.models import TenantOwned


class RegistrationState(models.TextChoices):
    STARTED = "started", "Started"
    PROFILE_DOWNLOADED = "profile_downloaded", "Profile downloaded"
    CERTIFICATE_ISSUED = "certificate_issued", "Certificate issued"
    ENROLLED = "enrolled", "Enrolled"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded"


OPEN_STATES = (RegistrationState.STARTED, RegistrationState.PROFILE_DOWNLOADED,
               RegistrationState.CERTIFICATE_ISSUED)


class RegistrationMethod(models.TextChoices):
    INVITATION = "invitation", "Invitation"
    IN_APP = "in_app", "In-app"
    SELF_SERVICE = "self_service", "Self-service portal"
    QR = "qr", "QR code"
    API = "api", "API"
    # Apple account-driven enrollment: the device asked, the user signed in on our page.
    ACCOUNT_DRIVEN = "account_driven", "Account-driven enrollment"
    # Not a new enrollment: a managed device's identity renewed by a re-enrollment profile.
    RENEWAL = "renewal", "Identity renewal"


class Registration(TenantOwned):
    user = models.ForeignKey("users.User", on_delete=models.CASCADE,
                             related_name="registrations")
    platform = models.CharField(max_length=10, choices=Platform.choices)
    method = models.CharField(max_length=20, choices=RegistrationMethod.choices)
    state = models.CharField(max_length=20, choices=RegistrationState.choices,
                             default=RegistrationState.STARTED)
    challenge = models.OneToOneField("enrollment.Challenge", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="registration")
    # SHA-256 of the one-time profile download token (the URL carries the raw value).
    profile_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    expires_at = models.DateTimeField()
    device = models.ForeignKey("devices.Device", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="registrations")
    supersedes = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="superseded_by")
    created_by = models.ForeignKey("users.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    profile_downloaded_at = models.DateTimeField(null=True, blank=True)
    certificate_issued_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "state", "expires_at"]),
            models.Index(fields=["tenant", "user", "-created_at"]),
            models.Index(fields=["tenant", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"registration {self.pk} ({self.platform}, {self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES and self.expires_at > timezone.now()
