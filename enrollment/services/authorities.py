"""The tenant CA: generate one with a new tenant, import one, and load the active key pair
and its SCEP RA (issued with the CA, for a CA stored before RAs existed on first use)."""

from __future__ import annotations

from functools import lru_cache

from django.db import connection, transaction

from audit.events import AuditAction
from audit.record import record
from core.encryption import decrypt, encrypt
from enrollment.models import CertificateAuthority
from pki.authority import KeyPair, fingerprint, generate_ca, load_key_pair, subject_text
from pki.registration_authority import issue_ra


def _ra_fields(ra: KeyPair) -> dict:
    return {"ra_certificate_der": ra.certificate_der,
            "ra_private_key_encrypted": encrypt(ra.key_der, CertificateAuthority.RA_KEY_PURPOSE)}


def _ra_detail(ra: KeyPair) -> dict:
    return {"ra_fingerprint_sha256": fingerprint(ra.certificate),
            "ra_not_after": ra.certificate.not_valid_after_utc.isoformat()}


def _store(tenant, pair: KeyPair, ra: KeyPair, source: str) -> CertificateAuthority:
    """The new active CA and its RA (inside the caller's transaction). The tenant row lock
    serialises rotations: two at once would each retire the old CA and both insert an active
    one."""
    # NO KEY: rows that merely point at the tenant (audit events...) may still be inserted.
    type(tenant).objects.select_for_update(no_key=True).values_list("pk", flat=True).get(
        pk=tenant.pk)
    CertificateAuthority.objects.for_tenant(tenant).filter(is_active=True).update(is_active=False)
    return CertificateAuthority.objects.create(
        tenant=tenant,
        subject=subject_text(pair.certificate.subject),
        certificate_der=pair.certificate_der,
        chain_pem=pair.chain_pem,
        private_key_encrypted=encrypt(pair.key_der, CertificateAuthority.KEY_PURPOSE),
        fingerprint_sha256=fingerprint(pair.certificate),
        not_before=pair.certificate.not_valid_before_utc,
        not_after=pair.certificate.not_valid_after_utc,
        source=source,
        **_ra_fields(ra),
    )


@transaction.atomic
def do_generate_ca(tenant, *, actor, common_name: str | None = None,
                   organization: str | None = None, years: int = 10,
                   origin=None) -> CertificateAuthority:
    pair = generate_ca(common_name or f"{tenant.name} MDM CA", organization or tenant.name,
                       years=years)
    ra = issue_ra(pair)
    ca = _store(tenant, pair, ra, CertificateAuthority.Source.GENERATED)
    record(tenant, AuditAction.CA_CREATED, actor=actor, target=ca, origin=origin,
           detail={"fingerprint_sha256": ca.fingerprint_sha256, **_ra_detail(ra)})
    return ca


@transaction.atomic
def do_import_ca(tenant, pair: KeyPair, *, actor, origin=None) -> CertificateAuthority:
    ra = issue_ra(pair)
    ca = _store(tenant, pair, ra, CertificateAuthority.Source.IMPORTED)
    record(tenant, AuditAction.CA_IMPORTED, actor=actor, target=ca, origin=origin,
           detail={"fingerprint_sha256": ca.fingerprint_sha256,
                   "chain": [subject_text(cert.subject) for cert in pair.chain],
                   **_ra_detail(ra)})
    return ca


def active_authority(tenant) -> CertificateAuthority | None:
    return CertificateAuthority.objects.for_tenant(tenant).filter(is_active=True).first()


_ACTIVE_ID_SQL = (f"SELECT id FROM {CertificateAuthority._meta.db_table} "  # noqa: S608
                  "WHERE tenant_id = %s AND is_active")


def serving_authority(tenant) -> CertificateAuthority | None:
    """The active CA, for the SCEP endpoint. Which CA is active is read from the database on
    every request, so that once a rotation commits no process serves or issues from the
    retired one; one indexed row, without the ORM (building that query cost a GetCACert as
    much again). The row itself, which never changes once written, is kept per process."""
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_ID_SQL, [tenant.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    authority = _authority(row[0])
    return authority if authority.ra_certificate_der is not None else with_ra(authority)


@lru_cache(maxsize=256)
def _authority(pk: int) -> CertificateAuthority:
    return CertificateAuthority.objects.get(pk=pk)


@transaction.atomic
def do_issue_missing_ra(tenant, authority: CertificateAuthority, *, actor) -> bool:
    """Give ``authority``, a CA stored before RAs existed, its RA. Of concurrent calls each
    issues one and the first to write wins; the others write nothing and answer False."""
    ra = issue_ra(key_pair(authority))
    written = (CertificateAuthority.objects.for_tenant(tenant)
               .filter(pk=authority.pk, ra_certificate_der__isnull=True)
               .update(**_ra_fields(ra)))
    if written:
        record(tenant, AuditAction.SCEP_RA_ISSUED, actor=actor, target=authority,
               detail=_ra_detail(ra))
    return bool(written)


def with_ra(authority: CertificateAuthority) -> CertificateAuthority:
    """``authority`` with its RA, issued now for a CA stored before RAs existed (its first
    SCEP request, whichever it is)."""
    do_issue_missing_ra(authority.tenant, authority, actor="system")
    _authority.cache_clear()  # the one row that changes after it was written; rare
    return _authority(authority.pk)


def forget_authorities() -> None:
    """Tests: database rows are rolled back between them, their ids may come again."""
    _authority.cache_clear()


@lru_cache(maxsize=256)
def _key_pair(ca_id: int, fingerprint_sha256: str, encrypted: bytes, cert_der: bytes,
              chain_pem: str) -> KeyPair:
    return load_key_pair(decrypt(encrypted, CertificateAuthority.KEY_PURPOSE), cert_der,
                         chain_pem)


def key_pair(ca: CertificateAuthority) -> KeyPair:
    """Decrypt and parse the CA key once per process (RSA key loading is not free)."""
    return _key_pair(ca.pk, ca.fingerprint_sha256, bytes(ca.private_key_encrypted),
                     bytes(ca.certificate_der), ca.chain_pem)


@lru_cache(maxsize=256)
def _ra_key_pair(ca_id: int, fingerprint_sha256: str, encrypted: bytes, cert_der: bytes,
                 chain_pem: str, ra_encrypted: bytes, ra_cert_der: bytes) -> KeyPair:
    ca = _key_pair(ca_id, fingerprint_sha256, encrypted, cert_der, chain_pem)
    ra = load_key_pair(decrypt(ra_encrypted, CertificateAuthority.RA_KEY_PURPOSE), ra_cert_der)
    return KeyPair(ra.key, ra.certificate, (ca.certificate, *ca.chain))


def ra_key_pair(ca: CertificateAuthority) -> KeyPair:
    """The CA's SCEP RA (its ``chain``: the CA, then the CA's issuers), decrypted once per
    process; issued now for a CA stored before RAs existed."""
    if ca.ra_certificate_der is None:
        ca = with_ra(ca)
    return _ra_key_pair(ca.pk, ca.fingerprint_sha256, bytes(ca.private_key_encrypted),
                        bytes(ca.certificate_der), ca.chain_pem,
                        bytes(ca.ra_private_key_encrypted), bytes(ca.ra_certificate_der))


def on_tenant_created(sender, tenant, **kwargs) -> None:
    do_generate_ca(tenant, actor="system")
