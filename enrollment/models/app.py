"""The agent app's credentials: single-use QR tokens (S14) and app sessions (S2, S18)."""

from django.db import models

from tenants.models import TenantOwned


class AppQrToken(TenantOwned):
    """A short-lived, single-use token the self-service portal shows as a QR code; the app
    scans it to register without typing credentials (iOS 14+ / Android 9+)."""

    user = models.ForeignKey("users.User", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "expires_at"],
                                name="enrollment__tenant__qr_exp_idx")]

    def __str__(self) -> str:  # the audit trail's target label
        return f"app QR code {self.pk}"


class AppSession(TenantOwned):
    """The app's bearer credential after it registered; used for status and re-registration."""

    user = models.ForeignKey("users.User", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    platform = models.CharField(max_length=10)
    os_version = models.CharField(max_length=32, blank=True)
    registration = models.ForeignKey("enrollment.Registration", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Where reminders reach the app (devices.push): an APNs device token (hex) for iOS, an FCM
    # registration token for Android. Empty until the app sends one.
    push_token = models.CharField(max_length=512, blank=True)
    push_service = models.CharField(max_length=10, blank=True,
                                    choices=[("apns", "APNs"), ("fcm", "Firebase")])
    push_token_updated_at = models.DateTimeField(null=True, blank=True)
