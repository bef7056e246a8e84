"""Android Enterprise (AMAPI): the tenant's enterprise binding and the enrollment tokens made
for registrations (SPEC R6, S17).

Secrets (the service-account JSON, the Pub/Sub push token, token values and QR payloads) are
stored encrypted (`core.encryption`); each has its own `purpose` string.
"""

from __future__ import annotations

import json

from django.db import models

from core import jobs
from core.encryption import decrypt, encrypt
from enrollment.models.registrations import OPEN_STATES
from tenants.models import TenantOwned

SERVICE_ACCOUNT_PURPOSE = "android.service_account"
PUSH_TOKEN_PURPOSE = "android.pubsub_push_token"
ENROLLMENT_TOKEN_PURPOSE = "android.enrollment_token"


class AndroidOwnership(models.TextChoices):
    """What the enrollment token provisions (`allowPersonalUsage`)."""

    WORK_PROFILE = "work_profile", "Work profile (personal device)"
    FULLY_MANAGED = "fully_managed", "Fully managed (company-owned)"


class AndroidEnterprise(TenantOwned):
    """One per tenant: credentials, the bound enterprise, policies and Pub/Sub settings."""

    project_id = models.CharField(max_length=100, blank=True)
    service_account_email = models.CharField(max_length=254, blank=True)
    service_account_encrypted = models.BinaryField(null=True, blank=True)
    # enterprises/LC0123abcd once bound; empty while unbound.
    enterprise_name = models.CharField(max_length=200, blank=True, db_index=True)
    display_name = models.CharField(max_length=200, blank=True)
    # The pending sign-up: Google's signupUrl name and a one-time state (SHA-256) we put in
    # the https callback URL; both cleared when the callback uses them.
    signup_url_name = models.CharField(max_length=200, blank=True)
    signup_state_hash = models.CharField(max_length=64, blank=True)
    signup_started_at = models.DateTimeField(null=True, blank=True)
    # Pub/Sub: topic set on the enterprise; the push endpoint's public id and secret token.
    pubsub_topic = models.CharField(max_length=255, blank=True)
    enabled_notification_types = models.JSONField(default=list, blank=True)
    push_endpoint_id = models.CharField(max_length=32, unique=True)
    push_token_hash = models.CharField(max_length=64)
    push_token_encrypted = models.BinaryField()
    default_ownership = models.CharField(max_length=20, choices=AndroidOwnership.choices,
                                         default=AndroidOwnership.WORK_PROFILE)
    agent_app_package = models.CharField(max_length=200, blank=True)
    default_policy_name = models.CharField(max_length=255, blank=True)
    company_policy_name = models.CharField(max_length=255, blank=True)
    bound_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"],
                                               name="android_enterprise_one_per_tenant")]

    def __str__(self) -> str:
        return self.enterprise_name or f"unbound Android Enterprise ({self.tenant_id})"

    @property
    def is_bound(self) -> bool:
        return bool(self.enterprise_name)

    def service_account_info(self) -> dict | None:
        if not self.service_account_encrypted:
            return None
        return json.loads(decrypt(self.service_account_encrypted, SERVICE_ACCOUNT_PURPOSE))

    def set_service_account_info(self, info: dict) -> None:
        self.service_account_encrypted = encrypt(json.dumps(info).encode(),
                                                 SERVICE_ACCOUNT_PURPOSE)
        self.service_account_email = str(info.get("client_email", ""))[:254]

    def push_token(self) -> str:
        return decrypt(self.push_token_encrypted, PUSH_TOKEN_PURPOSE).decode()


class AndroidEnrollmentToken(TenantOwned):
    """An AMAPI enrollment token made for one registration. `value` and `qrCode` can only be
    read when the token is created, so both are kept (encrypted) until it ends."""

    registration = models.OneToOneField("enrollment.Registration", on_delete=models.CASCADE,
                                        related_name="android_token")
    enterprise = models.ForeignKey(AndroidEnterprise, on_delete=models.CASCADE,
                                   related_name="tokens")
    name = models.CharField(max_length=255, unique=True)  # enterprises/x/enrollmentTokens/y
    secret_encrypted = models.BinaryField()  # JSON {"value", "qr_code"}
    policy_name = models.CharField(max_length=255)
    ownership = models.CharField(max_length=20, choices=AndroidOwnership.choices)
    one_time_only = models.BooleanField(default=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "revoked_at", "expires_at"])]

    def __str__(self) -> str:
        return self.name

    def _secret(self) -> dict:
        return json.loads(decrypt(self.secret_encrypted, ENROLLMENT_TOKEN_PURPOSE))

    @property
    def value(self) -> str:
        return self._secret().get("value", "")

    @property
    def qr_code(self) -> str:
        return self._secret().get("qr_code", "")

    @staticmethod
    def seal(value: str, qr_code: str) -> bytes:
        return encrypt(json.dumps({"value": value, "qr_code": qr_code}).encode(),
                       ENROLLMENT_TOKEN_PURPOSE)


def _revoke_when_registration_ends(sender, instance, created, update_fields=None, **kwargs):
    """A cancelled/expired/superseded Android registration: delete its token on Google soon
    after commit (the `android.revoke_ended_tokens` sweep catches anything missed, such as
    bulk updates that send no signal)."""
    if created or instance.platform != "android" or instance.state in OPEN_STATES:
        return
    if update_fields is not None and "state" not in update_fields:
        return
    token_id = (AndroidEnrollmentToken.objects.filter(registration_id=instance.pk,
                                                      revoked_at__isnull=True)
                .values_list("pk", flat=True).first())
    if token_id is not None:
        jobs.enqueue("android.revoke_token", token_id)


models.signals.post_save.connect(_revoke_when_registration_ends,
                                 sender="enrollment.Registration",
                                 dispatch_uid="android_revoke_when_registration_ends")
