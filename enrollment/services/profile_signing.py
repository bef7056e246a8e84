"""The tenant's profile-signing identity: generated lazily from the active CA, key encrypted
at rest, reissued when the CA changes or the certificate nears its end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core.encryption import decrypt, encrypt
from enrollment.models import CertificateAuthority
from enrollment.services.authorities import active_authority, key_pair
from pki.authority import fingerprint, subject_text
from profiles.models import ProfileSigningCertificate
from profiles.signing import issue_signing_certificate, sign_profile

RENEW_BEFORE = dt.timedelta(days=30)


class NoAuthority(Exception):
    """The tenant has no active CA to issue a signing certificate from."""


@dataclass(frozen=True)
class SigningIdentity:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    # Under an imported intermediate CA: that CA and its chain, embedded in every signature
    # so that a device trusting only the root can verify it.
    chain: tuple[x509.Certificate, ...] = ()


@lru_cache(maxsize=256)
def _load(pk: int, encrypted: bytes, cert_der: bytes) -> SigningIdentity:
    key = serialization.load_der_private_key(
        decrypt(encrypted, ProfileSigningCertificate.KEY_PURPOSE), password=None)
    return SigningIdentity(key, x509.load_der_x509_certificate(cert_der))


def _usable(tenant, authority: CertificateAuthority) -> ProfileSigningCertificate | None:
    return (ProfileSigningCertificate.objects.for_tenant(tenant)
            .filter(authority=authority, not_after__gt=timezone.now() + RENEW_BEFORE)
            .order_by("-not_after").first())


def signing_identity(tenant) -> SigningIdentity:
    """The current signing identity, issuing one from the active CA when there is none."""
    authority = active_authority(tenant)
    if authority is None:
        raise NoAuthority(tenant.slug)
    stored = _usable(tenant, authority) or _issue(tenant, authority.pk)
    identity = _load(stored.pk, bytes(stored.private_key_encrypted),
                     bytes(stored.certificate_der))
    if not authority.chain_pem:
        return identity
    ca = key_pair(authority)
    return replace(identity, chain=(ca.certificate, *ca.chain))


@transaction.atomic
def _issue(tenant, authority_id: int) -> ProfileSigningCertificate:
    # The CA row lock makes concurrent first downloads wait for one issuance, not race.
    authority = CertificateAuthority.objects.select_for_update().get(pk=authority_id)
    existing = _usable(tenant, authority)
    if existing is not None:
        return existing
    ca = key_pair(authority)
    key, certificate = issue_signing_certificate(
        ca.key, ca.certificate, common_name=f"{tenant.name} profile signing",
        organization=tenant.name)
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    stored = ProfileSigningCertificate.objects.create(
        tenant=tenant, authority=authority, subject=subject_text(certificate.subject),
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        private_key_encrypted=encrypt(key_der, ProfileSigningCertificate.KEY_PURPOSE),
        fingerprint_sha256=fingerprint(certificate),
        not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc,
    )
    record(tenant, AuditAction.PROFILE_SIGNING_CERT_CREATED, actor="system", target=stored,
           detail={"fingerprint_sha256": stored.fingerprint_sha256,
                   "authority_id": authority.pk})
    return stored


def sign_for_tenant(tenant, data: bytes) -> bytes:
    """``data`` (a serialized profile) as CMS SignedData by the tenant's signing identity."""
    identity = signing_identity(tenant)
    return sign_profile(data, identity.certificate, identity.key, identity.chain)
