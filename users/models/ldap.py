"""The tenant's LDAP connector (SPEC S3/S12): where the directory is, how to bind, which entries
are users and which attributes hold their details, plus the outcome of the last sync.

One connector per tenant. The bind password is stored encrypted (purpose
"ldap-bind-password") and only ever leaves this module as a plaintext for the LDAP client.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from core.encryption import DecryptionError, decrypt, encrypt
from tenants.models import TenantOwned
from users.ldap import client as ldap_client

BIND_PASSWORD_PURPOSE = "ldap-bind-password"
DEFAULT_USER_FILTER = "(objectClass=inetOrgPerson)"


def validate_server_urls(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one server URL.")
    if len(value) > 10:
        raise ValidationError("Give at most 10 server URLs.")
    for url in value:
        try:
            ldap_client.validate_server_url(url)
        except ldap_client.LdapConfigError as exc:
            raise ValidationError(str(exc)) from None


def validate_dn(value: str) -> None:
    try:
        ldap_client.validate_dn(value)
    except ldap_client.LdapConfigError as exc:
        raise ValidationError(str(exc)) from None


def validate_user_filter(value: str) -> None:
    try:
        ldap_client.validate_filter(value)
    except ldap_client.LdapConfigError as exc:
        raise ValidationError(str(exc)) from None


def validate_ca_pem(value: str) -> None:
    try:
        x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise ValidationError("Not a PEM certificate (-----BEGIN CERTIFICATE-----).") from None


attribute_name_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9-]{0,99}$", "An LDAP attribute name, e.g. mail or givenName.")


class LdapSyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class LdapConnector(TenantOwned):
    server_urls = models.JSONField(
        default=list, validators=[validate_server_urls],
        help_text="ldap:// or ldaps:// URLs, tried in order (failover).")
    start_tls = models.BooleanField(default=False, help_text="Upgrade ldap:// with StartTLS.")
    ca_certificate_pem = models.TextField(
        blank=True, validators=[validate_ca_pem],
        help_text="PEM CA that signed the server's certificate (else system CAs).")
    bind_dn = models.CharField(max_length=1000, blank=True, validators=[validate_dn],
                               help_text="Service account DN; blank binds anonymously.")
    bind_password_encrypted = models.BinaryField(blank=True, default=b"", editable=False)
    base_dn = models.CharField(max_length=1000, validators=[validate_dn])
    user_filter = models.CharField(max_length=2000, default=DEFAULT_USER_FILTER,
                                   validators=[validate_user_filter])
    email_attribute = models.CharField(max_length=100, default="mail",
                                       validators=[attribute_name_validator])
    first_name_attribute = models.CharField(max_length=100, default="givenName",
                                            validators=[attribute_name_validator])
    last_name_attribute = models.CharField(max_length=100, default="sn",
                                           validators=[attribute_name_validator])
    unique_id_attribute = models.CharField(
        max_length=100, default="entryUUID", validators=[attribute_name_validator],
        help_text="Stable id of an entry (entryUUID; objectGUID on Active Directory).")
    is_enabled = models.BooleanField(default=True)
    sync_interval_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 60)])

    last_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_status = models.CharField(max_length=10, choices=LdapSyncStatus.choices,
                                        default=LdapSyncStatus.NEVER, editable=False)
    last_sync_counts = models.JSONField(default=dict, blank=True, editable=False)
    # Entries not imported (collisions, invalid data), capped; see users.ldap.sync.
    last_sync_problems = models.JSONField(default=list, blank=True, editable=False)
    last_sync_error = models.TextField(blank=True, editable=False)
    last_sync_duration_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "LDAP connector"
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="ldap_connector_one_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"LDAP {self.base_dn}"

    @property
    def has_bind_password(self) -> bool:
        return bool(self.bind_password_encrypted)

    def set_bind_password(self, plaintext: str) -> None:
        self.bind_password_encrypted = (
            encrypt(plaintext.encode(), BIND_PASSWORD_PURPOSE) if plaintext else b"")

    def get_bind_password(self) -> str:
        if not self.bind_password_encrypted:
            return ""
        return decrypt(bytes(self.bind_password_encrypted), BIND_PASSWORD_PURPOSE).decode()

    def is_sync_due(self, now: dt.datetime | None = None) -> bool:
        if not self.is_enabled:
            return False
        if self.last_sync_at is None:
            return True
        now = now or timezone.now()
        return now - self.last_sync_at >= dt.timedelta(minutes=self.sync_interval_minutes)

    def client_settings(self) -> ldap_client.LdapSettings:
        """What `users.ldap.client.LdapClient` needs (decrypts the bind password)."""
        try:
            bind_password = self.get_bind_password()
        except DecryptionError:
            raise ldap_client.LdapConfigError(
                "The stored bind password cannot be decrypted (was MDM_ENCRYPTION_KEY "
                "changed?); enter it again.") from None
        return ldap_client.LdapSettings(
            server_urls=tuple(self.server_urls or ()),
            start_tls=self.start_tls,
            ca_certificate_pem=self.ca_certificate_pem,
            bind_dn=self.bind_dn,
            bind_password=bind_password,
            base_dn=self.base_dn,
            user_filter=self.user_filter,
            attributes=ldap_client.AttributeMap(
                email=self.email_attribute, first_name=self.first_name_attribute,
                last_name=self.last_name_attribute, unique_id=self.unique_id_attribute),
        )
