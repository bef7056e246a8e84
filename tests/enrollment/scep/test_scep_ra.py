"""The tenant's SCEP RA: issued with its CA, served by GetCACert after it, signing every CertRep,
decrypting requests (as the CA still does), key encrypted at rest, issued on first use for a
CA stored before RAs existed."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from audit.models import AuditEvent
from core.encryption import decrypt
from enrollment.models import CertificateAuthority
from enrollment.scep.oids import FailInfo, PKIStatus
from enrollment.services.authorities import (
    active_authority,
    do_generate_ca,
    forget_authorities,
    key_pair,
    ra_key_pair,
)
from enrollment.services.challenges import do_create_challenge
from pki.registration_authority import is_ra_certificate
from tests.enrollment.scep.helpers import (
    decode,
    load_certificates,
    pkcs_req,
    post,
    tenant_ca_cert,
    tenant_ra_cert,
)


@pytest.fixture
def challenge(tenant, admin):
    return do_create_challenge(tenant, actor=admin, purpose="test")


def test_new_ca_comes_with_an_ra_it_issued_whose_key_is_encrypted(tenant):
    authority = active_authority(tenant)
    ca, ra = key_pair(authority), ra_key_pair(authority)
    ra.certificate.verify_directly_issued_by(ca.certificate)
    assert is_ra_certificate(ra.certificate) and not is_ra_certificate(ca.certificate)
    assert ra.certificate.not_valid_after_utc <= ca.certificate.not_valid_after_utc
    assert ra.chain == (ca.certificate,)
    plain = ra.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    stored = bytes(authority.ra_private_key_encrypted)
    assert plain[:64] not in stored
    assert decrypt(stored, CertificateAuthority.RA_KEY_PURPOSE) == plain
    assert ra.key.public_key().public_numbers() != ca.key.public_key().public_numbers()
    event = AuditEvent.objects.get(tenant=tenant, action="ca.created")
    assert event.detail["ra_fingerprint_sha256"] == ra.certificate.fingerprint(
        hashes.SHA256()).hex()


@pytest.mark.parametrize("recipient", ["ra", "ca"])
def test_a_request_encrypted_to_the_ra_or_to_the_ca_is_answered_by_the_ra(
        client, tenant, challenge, recipient):
    """RFC 8894 clients encrypt to the RA; clients that took the CA (and every request made
    before the RA existed) encrypt to the CA: both are issued, and the RA signs the CertRep."""
    recipient_cert = tenant_ra_cert(tenant) if recipient == "ra" else tenant_ca_cert(tenant)
    request = pkcs_req(tenant, challenge.raw, ca_cert=recipient_cert)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    assert reply.message.signer_cert == tenant_ra_cert(tenant)
    reply.certificate.verify_directly_issued_by(tenant_ca_cert(tenant))
    assert reply.certificates == [reply.certificate]  # a root CA: no chain to carry


def test_failures_are_signed_by_the_ra_too(client, tenant):
    request = pkcs_req(tenant, "no such challenge")
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert reply.message.signer_cert == tenant_ra_cert(tenant)


def test_rotation_brings_a_new_ra_issued_by_the_new_ca(client, tenant, admin):
    old_ra = tenant_ra_cert(tenant)
    do_generate_ca(tenant, actor=admin, common_name="Acme Devices CA", years=1)
    ca, ra = tenant_ca_cert(tenant), tenant_ra_cert(tenant)
    assert ra != old_ra
    ra.verify_directly_issued_by(ca)
    assert ra.not_valid_after_utc <= ca.not_valid_after_utc
    served = load_certificates(client.get(f"/t/{tenant.slug}/scep?operation=GetCACert").content)
    assert served == [ca, ra]
    # A request still encrypted to the retired RA cannot be read: the client must refetch.
    request = pkcs_req(tenant, do_create_challenge(tenant, actor=admin).raw, ca_cert=old_ra)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_CERT_ID)


def test_a_ca_stored_before_ras_existed_gets_one_on_first_use(client, tenant, challenge):
    """Rows of the migration that added RAs have none: the first SCEP request issues it, once,
    audited; every later request serves the same one."""
    authority = active_authority(tenant)
    CertificateAuthority.objects.filter(pk=authority.pk).update(
        ra_certificate_der=None, ra_private_key_encrypted=None)
    forget_authorities()
    first = load_certificates(client.get(f"/t/{tenant.slug}/scep?operation=GetCACert").content)
    again = load_certificates(client.get(f"/t/{tenant.slug}/scep?operation=GetCACert").content)
    assert first == again and len(first) == 2
    ca, ra = first
    ra.verify_directly_issued_by(ca)
    assert is_ra_certificate(ra)
    events = AuditEvent.objects.filter(tenant=tenant, action="ca.ra_issued")
    assert events.count() == 1 and events.get().actor_label == "system"
    request = pkcs_req(tenant, challenge.raw, ca_cert=ra)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS and reply.message.signer_cert == ra


def test_ra_name_keeps_its_suffix_under_a_long_ca_name(tenant, admin):
    do_generate_ca(tenant, actor=admin, common_name="C" * 64, organization="O" * 64)
    ra = tenant_ra_cert(tenant)
    [common_name] = ra.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert common_name.value.endswith(" SCEP RA") and len(common_name.value) <= 64


def test_a_second_issuer_of_the_missing_ra_writes_nothing(tenant):
    """Two workers both saw no RA: the one that writes second changes nothing."""
    from enrollment.services.authorities import do_issue_missing_ra

    authority = active_authority(tenant)
    CertificateAuthority.objects.filter(pk=authority.pk).update(
        ra_certificate_der=None, ra_private_key_encrypted=None)
    stale = CertificateAuthority.objects.get(pk=authority.pk)
    assert do_issue_missing_ra(tenant, stale, actor="system") is True
    written = bytes(CertificateAuthority.objects.get(pk=authority.pk).ra_certificate_der)
    assert do_issue_missing_ra(tenant, stale, actor="system") is False
    assert bytes(CertificateAuthority.objects.get(pk=authority.pk).ra_certificate_der) == written
    assert AuditEvent.objects.filter(tenant=tenant, action="ca.ra_issued").count() == 1
