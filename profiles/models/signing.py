"""The tenant's profile-signing certificate: issued by the tenant CA, generated on first use."""

from django.db import models

from tenants.models import TenantOwned


class ProfileSigningCertificate(TenantOwned):
    KEY_PURPOSE = "profile-signing-key"

    authority = models.ForeignKey("enrollment.CertificateAuthority", on_delete=models.CASCADE,
                                  related_name="+")
    subject = models.CharField(max_length=500)
    certificate_der = models.BinaryField()
    # PKCS#8 DER, AES-256-GCM with MDM_ENCRYPTION_KEY (see core.encryption).
    private_key_encrypted = models.BinaryField()
    fingerprint_sha256 = models.CharField(max_length=64)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "authority", "-not_after"])]

    def __str__(self) -> str:
        return self.subject
