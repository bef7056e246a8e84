"""Push storage: the tenant's APNs MDM certificate, the requests for one made here and the MDM
vendor certificate that signs them, the agent app's push credentials, every push attempt with
its result, and push tokens that Apple or Google rejected.

Private keys and the FCM service account are encrypted at rest (`core.encryption`),
each with its own purpose string.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone

from tenants.models import TenantOwned

# An admin is warned this long before the APNs MDM certificate expires (Apple renews it; an
# expired one means no device can be reached).
EXPIRY_WARNING = dt.timedelta(days=30)


class ApnsCertificate(TenantOwned):
    """The tenant's MDM push certificate (from Apple's Push Certificates Portal)."""

    KEY_PURPOSE = "apns-mdm-certificate-key"

    certificate_pem = models.TextField()
    private_key_encrypted = models.BinaryField()
    # The certificate's UID: com.apple.mgmt.External.<uuid>; enrollment profiles carry it.
    topic = models.CharField(max_length=255)
    subject = models.CharField(max_length=500, blank=True)
    serial_number = models.CharField(max_length=80, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by_label = models.CharField(max_length=200, blank=True)
    # The 30-day warning is audited once per certificate.
    expiry_warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"],
                                               name="one_apns_certificate_per_tenant")]
        verbose_name = "APNs MDM certificate"

    def __str__(self) -> str:
        return f"APNs certificate {self.topic}"

    @property
    def is_expired(self) -> bool:
        return self.not_after <= timezone.now()

    @property
    def expires_soon(self) -> bool:
        return self.not_after - EXPIRY_WARNING <= timezone.now()

    @property
    def days_left(self) -> int:
        return max(0, (self.not_after - timezone.now()).days)


class ApnsCertificateRequest(TenantOwned):
    """A push certificate request made here: the push key (kept, encrypted), its CSR and, when
    an MDM vendor certificate signed it, the file for Apple's Push Certificates Portal. The
    certificate Apple issues for it is matched back by public key."""

    KEY_PURPOSE = "apns-certificate-request-key"

    class SignedBy(models.TextChoices):
        TENANT = "tenant", "Your MDM vendor certificate"
        DEPLOYMENT = "deployment", "This server's MDM vendor certificate"

    private_key_encrypted = models.BinaryField()
    csr_pem = models.TextField()
    # SHA-256 of the SubjectPublicKeyInfo, hex: Apple's certificate carries the same key.
    public_key_sha256 = models.CharField(max_length=64)
    # The vendor-signed request (base64 of the plist), empty when no vendor certificate signed.
    signed_request = models.TextField(blank=True)
    signed_by = models.CharField(max_length=10, choices=SignedBy.choices, blank=True)
    vendor_subject = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_label = models.CharField(max_length=200, blank=True)
    # When Apple's certificate for this key was uploaded (it may be uploaded again).
    matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "public_key_sha256"],
                                name="apns_request_tenant_key")]
        verbose_name = "APNs certificate request"

    def __str__(self) -> str:
        return f"APNs certificate request {self.public_key_sha256[:12]}"


class MdmVendorCertificate(TenantOwned):
    """The tenant's own MDM vendor certificate ("MDM CSR" from Apple Developer), its key and
    Apple's chain above it: it signs the tenant's push certificate requests."""

    KEY_PURPOSE = "mdm-vendor-certificate-key"

    certificate_pem = models.TextField()
    issuers_pem = models.TextField()  # Apple's WWDR intermediate, then Apple Root CA
    private_key_encrypted = models.BinaryField()
    subject = models.CharField(max_length=500, blank=True)
    serial_number = models.CharField(max_length=80, blank=True)
    not_after = models.DateTimeField()
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"],
                                               name="one_mdm_vendor_certificate_per_tenant")]
        verbose_name = "MDM vendor certificate"

    def __str__(self) -> str:
        return f"MDM vendor certificate {self.subject}"[:200]

    @property
    def is_expired(self) -> bool:
        return self.not_after <= timezone.now()


class AppPushCredentials(TenantOwned):
    """How the server reaches the agent app: APNs token auth (.p8 key) for iOS, Firebase
    Cloud Messaging HTTP v1 (service account) for Android."""

    APNS_KEY_PURPOSE = "apns-app-signing-key"
    FCM_PURPOSE = "fcm-service-account"

    apns_key_id = models.CharField(max_length=20, blank=True)
    apns_team_id = models.CharField(max_length=20, blank=True)
    apns_bundle_id = models.CharField(max_length=200, blank=True)
    apns_key_encrypted = models.BinaryField(null=True, blank=True)  # the .p8 (PKCS#8 PEM)
    apns_use_sandbox = models.BooleanField(default=False)
    fcm_project_id = models.CharField(max_length=200, blank=True)
    fcm_client_email = models.CharField(max_length=300, blank=True)
    fcm_service_account_encrypted = models.BinaryField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"],
                                               name="one_app_push_credentials_per_tenant")]
        verbose_name = "app push credentials"
        verbose_name_plural = "app push credentials"

    def __str__(self) -> str:
        return f"app push credentials of tenant {self.tenant_id}"

    @property
    def has_apns(self) -> bool:
        return bool(self.apns_key_encrypted and self.apns_key_id and self.apns_team_id
                    and self.apns_bundle_id)

    @property
    def has_fcm(self) -> bool:
        return bool(self.fcm_service_account_encrypted and self.fcm_project_id)


class PushKind(models.TextChoices):
    MDM = "mdm", "APNs (MDM)"
    APP_APNS = "app_apns", "APNs (app)"
    FCM = "fcm", "Firebase (app)"
    EMAIL = "email", "Email"


class PushResult(models.TextChoices):
    SENT = "sent", "Sent"
    BAD_TOKEN = "bad_token", "Bad device token"
    UNREGISTERED = "unregistered", "Unregistered"
    THROTTLED = "throttled", "Throttled (will retry)"
    SERVER_ERROR = "server_error", "Service unavailable (will retry)"
    FAILED = "failed", "Failed"
    NO_CREDENTIALS = "no_credentials", "No push credentials"
    TOKEN_INVALID = "token_invalid", "Skipped: token known invalid"


# These results mean "this token will never work again".
DEAD_TOKEN_RESULTS = (PushResult.BAD_TOKEN, PushResult.UNREGISTERED)
# These are worth another try later.
RETRY_RESULTS = (PushResult.THROTTLED, PushResult.SERVER_ERROR)


class PushAttempt(TenantOwned):
    """One push to one token (after the client's own retries), with what the service said."""

    device = models.ForeignKey("devices.Device", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="push_attempts")
    channel = models.ForeignKey("devices.AppleChannel", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    app_session = models.ForeignKey("enrollment.AppSession", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    registration = models.ForeignKey("enrollment.Registration", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=PushKind.choices)
    reason = models.CharField(max_length=20, default="command")  # command, reminder, manual
    result = models.CharField(max_length=20, choices=PushResult.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)  # APNs reason / FCM error code
    message_id = models.CharField(max_length=200, blank=True)  # apns-id / FCM message name
    tries = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "device", "-created_at"]),
            models.Index(fields=["tenant", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} push {self.result}"


class InvalidPushToken(TenantOwned):
    """A token APNs answered 400 BadDeviceToken or 410 Unregistered for (or FCM UNREGISTERED).

    Pushes to it stop; the device (or app) sends a new token at its next check-in, whose digest
    differs, and pushes resume. The device page shows it as a flag."""

    token_digest = models.CharField(max_length=64)  # SHA-256 of the raw token
    device = models.ForeignKey("devices.Device", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="invalid_push_tokens")
    kind = models.CharField(max_length=10, choices=PushKind.choices)
    result = models.CharField(max_length=20, choices=PushResult.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "token_digest"],
                                               name="invalid_push_token_unique")]

    def __str__(self) -> str:
        return f"invalid {self.kind} token {self.token_digest[:8]}"
