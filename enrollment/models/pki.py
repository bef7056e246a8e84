"""A tenant's certificate authority: the SCEP CA that issues device identity certificates."""

from django.db import models

from mdm_server.tenancy import TenantOwned


class CertificateAuthority(TenantOwned):
    """One tenant may hold several CAs over time (generated, then imported...); exactly one is
    active and issues. Certificates from any of the tenant's CAs stay verifiable."""

    class Source(models.TextChoices):
        GENERATED = "generated", "Generated"
        IMPORTED = "imported", "Imported"

    subject = models.CharField(max_length=500)
    certificate_der = models.BinaryField()
    # PKCS#8 DER, AES-256-GCM with MDM_ENCRYPTION_KEY (see mdm_server.encryption).
    private_key_encrypted = models.BinaryField()
    fingerprint_sha256 = models.CharField(max_length=64)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    KEY_PURPOSE = "ca-private-key"

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(is_active=True),
                                    name="one_active_ca_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.subject
