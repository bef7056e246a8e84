"""A PKCSReq signed by a certificate of this tenant's CA renews it, as certmonger renews
(`getcert rekey`, resubmit, auto-renewal): the RenewalReq rules, no challenge needed, the one
it still carries left alone. Refusals are signed CertRep FAILUREs, audited, and write nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from enrollment.models import Challenge, IssuedCertificate
from enrollment.scep.oids import FailInfo, PKIStatus
from enrollment.services.authorities import do_generate_ca
from enrollment.services.certificates import do_revoke_certificate
from enrollment.services.challenges import do_create_challenge
from pki.authority import fingerprint
from tests.base.scep.client import Identity, new_key
from tests.enrollment.scep.helpers import decode, pkcs_req, post, tenant_ca_cert


def _enroll(client, tenant, admin, cn="host.example.test"):
    """(identity, its row, the challenge it was enrolled with), as `getcert request -L`."""
    minted = do_create_challenge(tenant, actor=admin)
    key = new_key()
    request = pkcs_req(tenant, minted.raw, cn=cn, key=key)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    row = IssuedCertificate.objects.get(tenant=tenant,
                                        fingerprint_sha256=fingerprint(reply.certificate))
    return Identity(key, reply.certificate), row, minted


def _rekey(tenant, identity: Identity, challenge: str | None, key=None, cn="host.example.test"):
    """A PKCSReq for a new key, signed by ``identity``: what `getcert rekey` sends."""
    return pkcs_req(tenant, challenge, cn=cn, key=key or new_key(), signer=identity)


def _last_rejection(tenant) -> dict:
    return AuditEvent.objects.filter(tenant=tenant, action="scep.rejected").latest("pk").detail


def _snapshot(tenant) -> tuple:
    return (IssuedCertificate.objects.filter(tenant=tenant).count(),
            AuditEvent.objects.filter(tenant=tenant, action__startswith="certificate.").count(),
            sorted(Challenge.objects.filter(tenant=tenant).values_list("pk", "used_at")))


@pytest.mark.parametrize("carried", ["spent", "none", "fresh"])
def test_pkcsreq_signed_by_our_certificate_renews_it(client, tenant, admin, carried):
    identity, previous, minted = _enroll(client, tenant, admin)
    fresh = do_create_challenge(tenant, actor=admin)
    challenge = {"spent": minted.raw, "none": None, "fresh": fresh.raw}[carried]
    request = _rekey(tenant, identity, challenge)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    renewed = IssuedCertificate.objects.get(tenant=tenant, renewed_from=previous)
    assert renewed.challenge_id is None and renewed.common_name == "host.example.test"
    reply.certificate.verify_directly_issued_by(tenant_ca_cert(tenant))
    assert reply.certificate.public_key() == request.csr.public_key()
    event = AuditEvent.objects.get(tenant=tenant, action="certificate.renewed")
    assert event.detail["renewed_from"] == previous.pk
    assert event.detail["message_type"] == "PKCS_REQ"
    assert event.target_id == str(renewed.pk)
    # The challenge it carries is not looked at: a fresh one stays unspent for its owner.
    assert Challenge.objects.get(pk=fresh.challenge.pk).used_at is None


def test_a_renewed_certificate_renews_in_turn(client, tenant, admin):
    identity, first, minted = _enroll(client, tenant, admin)
    key = new_key()
    request = _rekey(tenant, identity, minted.raw, key=key)
    second = decode(post(client, tenant, request), request, tenant).certificate
    again = _rekey(tenant, Identity(key, second), minted.raw)
    assert decode(post(client, tenant, again), again, tenant).status is PKIStatus.SUCCESS
    chain = list(IssuedCertificate.objects.filter(tenant=tenant).order_by("pk"))
    assert [c.renewed_from_id for c in chain] == [None, first.pk, chain[1].pk]


@pytest.mark.parametrize(("carried", "reason"), [("spent", "challenge reused"),
                                                  ("none", "renewal signer revoked")])
def test_pkcsreq_signed_by_a_revoked_certificate_fails(client, tenant, admin, carried, reason):
    identity, previous, minted = _enroll(client, tenant, admin)
    do_revoke_certificate(tenant, previous, actor=admin, reason="key_compromise")
    challenge = {"spent": minted.raw, "none": None}[carried]
    before = _snapshot(tenant)
    request = _rekey(tenant, identity, challenge)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    rejection = _last_rejection(tenant)
    assert rejection["reason"] == reason
    if carried == "spent":  # the challenge decided; why the signer could not is said too
        assert rejection["signer_refused"] == "renewal signer revoked"
    assert rejection["certificate_id"] == previous.pk
    assert rejection["message_type"] == "PKCS_REQ" and rejection["fail_info"] == "BAD_REQUEST"
    assert _snapshot(tenant) == before  # no certificate, no event, no challenge spent


@pytest.mark.parametrize("ended", ["revoked", "expired"])
def test_an_ended_certificate_enrolls_afresh_with_a_new_challenge(client, tenant, admin, ended):
    """A device whose identity was revoked or expired, given a new profile, signs its
    PKCSReq with the old certificate: the fresh challenge decides; no renewal chain."""
    identity, previous, _ = _enroll(client, tenant, admin)
    if ended == "revoked":
        do_revoke_certificate(tenant, previous, actor=admin, reason="superseded")
    else:
        IssuedCertificate.objects.filter(pk=previous.pk).update(
            not_after=timezone.now() - dt.timedelta(minutes=1))
    fresh = do_create_challenge(tenant, actor=admin)
    request = _rekey(tenant, identity, fresh.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    issued = IssuedCertificate.objects.get(
        tenant=tenant, serial_hex=f"{reply.certificate.serial_number:040x}")
    assert issued.renewed_from_id is None and issued.challenge_id == fresh.challenge.pk
    assert Challenge.objects.get(pk=fresh.challenge.pk).used_at is not None


def test_pkcsreq_signed_by_an_expired_certificate_fails(client, tenant, admin):
    identity, previous, minted = _enroll(client, tenant, admin)
    IssuedCertificate.objects.filter(pk=previous.pk).update(
        not_after=timezone.now() - dt.timedelta(minutes=1))
    before = _snapshot(tenant)
    request = _rekey(tenant, identity, minted.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    rejection = _last_rejection(tenant)
    assert (rejection["reason"], rejection["signer_refused"]) == (
        "challenge reused", "renewal signer expired")
    assert _snapshot(tenant) == before


def test_pkcsreq_signed_by_another_tenants_certificate_fails(client, tenant, admin,
                                                             other_tenant, other_admin):
    identity, _, theirs = _enroll(client, other_tenant, other_admin)
    before = _snapshot(tenant)
    # Without a challenge: a renewal sent to the wrong CA.
    request = _rekey(tenant, identity, None)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    rejection = _last_rejection(tenant)
    assert rejection["reason"] == "renewal signer not issued by this CA"
    assert rejection["signer_issuer"] == tenant_ca_cert(other_tenant).subject.rfc4514_string()
    # With the challenge it enrolled with there (what certmonger sends): unknown here.
    request = _rekey(tenant, identity, theirs.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    rejection = _last_rejection(tenant)
    assert rejection["reason"] == "challenge unknown"
    assert rejection["signer_issuer"] == tenant_ca_cert(other_tenant).subject.rfc4514_string()
    assert _snapshot(tenant) == before
    assert not IssuedCertificate.objects.filter(tenant=other_tenant, renewed_from__isnull=False)


def test_pkcsreq_signed_by_another_cas_certificate_with_our_challenge_is_issued(
        client, tenant, admin, other_tenant, other_admin):
    """RFC 8894 lets a requester sign with a certificate of another CA: a challenge of ours
    then authorizes a new enrollment, not a renewal."""
    identity, _, _ = _enroll(client, other_tenant, other_admin)
    ours = do_create_challenge(tenant, actor=admin)
    request = _rekey(tenant, identity, ours.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    issued = IssuedCertificate.objects.get(tenant=tenant)
    assert issued.renewed_from_id is None and issued.challenge_id == ours.challenge.pk


def test_self_signed_pkcsreq_still_needs_the_challenge(client, tenant, admin):
    before = _snapshot(tenant)
    request = pkcs_req(tenant, None)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert _last_rejection(tenant)["reason"] == "challenge missing"
    assert "signer_issuer" not in _last_rejection(tenant)
    assert _snapshot(tenant) == before


def test_revocation_committed_before_the_store_wins_for_a_pkcsreq_renewal(
        client, tenant, admin, monkeypatch):
    from enrollment.scep import depot

    identity, previous, minted = _enroll(client, tenant, admin)
    store = depot.store

    def revoke_first(signed, *args, **kwargs):
        do_revoke_certificate(tenant, previous, actor=admin)
        return store(signed, *args, **kwargs)

    monkeypatch.setattr(depot, "store", revoke_first)
    request = _rekey(tenant, identity, minted.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert _last_rejection(tenant)["reason"] == "renewal signer revoked"
    assert not IssuedCertificate.objects.filter(renewed_from=previous).exists()
    assert not AuditEvent.objects.filter(tenant=tenant, action="certificate.renewed").exists()


def test_certificate_of_a_retired_ca_of_this_tenant_renews_under_the_new_one(client, tenant,
                                                                            admin):
    identity, previous, minted = _enroll(client, tenant, admin)
    do_generate_ca(tenant, actor=admin, common_name="Acme CA 2", years=2)
    request = _rekey(tenant, identity, minted.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    reply.certificate.verify_directly_issued_by(tenant_ca_cert(tenant))
    assert IssuedCertificate.objects.get(renewed_from=previous).authority.is_active
