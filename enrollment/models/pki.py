"""A tenant's certificate authority: the SCEP CA that issues device identity certificates."""

from django.db import models

from tenants.models import TenantOwned


class CertificateAuthority(TenantOwned):
    """One tenant may hold several CAs over time (generated, then imported...); exactly one is
    active and issues. Certificates from any of the tenant's CAs stay verifiable."""

    class Source(models.TextChoices):
        GENERATED = "generated", "Generated"
        IMPORTED = "imported", "Imported"

    subject = models.CharField(max_length=500)
    certificate_der = models.BinaryField()
    # An imported intermediate CA's issuers (PEM, nearest first): served with GetCACert and
    # the CertRep, and trusted by the enrollment profile. Empty for a root CA.
    chain_pem = models.TextField(blank=True, default="")
    # PKCS#8 DER, AES-256-GCM with MDM_ENCRYPTION_KEY (see core.encryption).
    private_key_encrypted = models.BinaryField()
    fingerprint_sha256 = models.CharField(max_length=64)
    # The SCEP RA certificate this CA issued (pki.registration_authority): it signs CertReps
    # and requests are encrypted to it. Issued with the CA, expires with it; empty only on a
    # CA stored before RAs existed, until its first SCEP request issues one.
    ra_certificate_der = models.BinaryField(null=True, blank=True)
    # PKCS#8 DER, AES-256-GCM with MDM_ENCRYPTION_KEY, like the CA key.
    ra_private_key_encrypted = models.BinaryField(null=True, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    KEY_PURPOSE = "ca-private-key"
    RA_KEY_PURPOSE = "scep-ra-private-key"

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(is_active=True),
                                    name="one_active_ca_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.subject

    def chain_certificates(self) -> list:
        from cryptography import x509

        return x509.load_pem_x509_certificates(self.chain_pem.encode()) if self.chain_pem else []

    def chain_subjects(self) -> list[str]:
        return [cert.subject.rfc4514_string() for cert in self.chain_certificates()]
