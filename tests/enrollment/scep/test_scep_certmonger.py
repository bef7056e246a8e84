"""Interop with a real SCEP client that trusts only what GetCACert returns: Debian's certmonger,
as an administrator runs it (`getcert add-scep-ca -c NAME -u URL`, no -N), against the live
Django server on loopback (PostgreSQL behind it). certmonger runs privately
(tests/scep/certmonger_runner.py): its own D-Bus session bus and state folders.

It must find the RA in GetCACert to verify our CertRep, request with the one-time challenge
(`-L`), reach MONITORING with a certificate `openssl verify` accepts, then renew with
`getcert rekey` (a PKCSReq signed by its certificate) recorded as a renewal of it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from audit.models import AuditEvent
from enrollment.models import Challenge, IssuedCertificate
from enrollment.services.certificates import do_revoke_certificate
from enrollment.services.challenges import do_create_challenge
from pki.authority import fingerprint
from tests.base.scep.certmonger import CertmongerSession
from tests.enrollment.scep.helpers import tenant_ca_cert

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def certmonger():
    with CertmongerSession() as session:
        yield session


def _openssl_verify(cert: Path, ca: Path, untrusted: Path | None = None) -> None:
    command = ["openssl", "verify", "-CAfile", str(ca)]
    if untrusted is not None:
        command += ["-untrusted", str(untrusted)]
    verified = subprocess.run([*command, str(cert)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and ": OK" in verified.stdout, verified.stdout + verified.stderr


def _stored(cert_path: Path) -> IssuedCertificate:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(cert))


def _request(certmonger: CertmongerSession, tmp_path: Path, challenge: str,
             request_id: str = "host") -> tuple[Path, dict]:
    cert_path = tmp_path / f"{request_id}.crt"
    certmonger.getcert("request", "-c", "mdm", "-I", request_id, "-f", str(cert_path),
                       "-k", str(tmp_path / f"{request_id}.key"),
                       "-N", "CN=certmonger-host.example.test", "-L", challenge, "-w")
    fields = certmonger.wait_for(request_id, ("MONITORING", "CA_REJECTED", "CA_UNREACHABLE",
                                              "NEED_GUIDANCE", "CA_UNCONFIGURED"))
    return cert_path, fields


def test_certmonger_enrolls_and_renews_with_a_pkcsreq(live_server, tenant, admin, tmp_path,
                                                       certmonger):
    url = f"{live_server.url}/t/{tenant.slug}/scep"
    listing = certmonger.add_scep_ca("mdm", url)
    assert "SCEP CA certificate thumbprint" in listing
    minted = do_create_challenge(tenant, actor=admin, purpose="certmonger")

    cert_path, fields = _request(certmonger, tmp_path, minted.raw)
    assert fields["status"] == "MONITORING", (fields, certmonger.logs())
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(tenant_ca_cert(tenant).public_bytes(Encoding.PEM))
    _openssl_verify(cert_path, ca_pem)
    first = _stored(cert_path)
    assert first.common_name == "certmonger-host.example.test"
    assert first.challenge_id == minted.challenge.pk
    assert Challenge.objects.get(pk=minted.challenge.pk).used_at is not None
    key_before = (tmp_path / "host.key").read_bytes()

    # Rekey: a new key, a PKCSReq signed by the current certificate, the spent challenge
    # still in it. Recorded as a renewal of that certificate.
    certmonger.getcert("rekey", "-i", "host", "-w")  # -w: until it settles
    fields = certmonger.wait_for("host", ("MONITORING", "CA_REJECTED", "CA_UNREACHABLE",
                                          "NEED_GUIDANCE"))
    assert fields["status"] == "MONITORING", (fields, certmonger.logs())
    second = _wait_for_new_certificate(certmonger, cert_path, first)
    assert second.renewed_from_id == first.pk and second.challenge_id is None
    assert (tmp_path / "host.key").read_bytes() != key_before
    _openssl_verify(cert_path, ca_pem)
    renewed = AuditEvent.objects.get(tenant=tenant, action="certificate.renewed")
    assert renewed.detail["message_type"] == "PKCS_REQ"
    assert renewed.detail["renewed_from"] == first.pk
    assert not AuditEvent.objects.filter(tenant=tenant, action="scep.rejected").exists()

    # Once revoked, the certificate renews nothing: certmonger is told so, nothing is written.
    do_revoke_certificate(tenant, second, actor=admin, reason="key_compromise")
    certmonger.getcert("rekey", "-i", "host", "-w", check=False)
    fields = certmonger.wait_for("host", ("CA_REJECTED", "CA_UNREACHABLE", "NEED_GUIDANCE"),
                                 until=lambda fields: "ca-error" in fields)
    # certmonger read the signed FAILURE (badRequest) and keeps the certificate it has.
    assert fields["status"] == "MONITORING", (fields, certmonger.logs())
    assert "not permitted" in fields["ca-error"], fields
    # It still carries its first challenge, spent long ago: that decides, and the audit says
    # why the signer could not renew.
    reasons = [(event.detail["reason"], event.detail.get("signer_refused"),
                event.detail.get("message_type")) for event in
               AuditEvent.objects.filter(tenant=tenant, action="scep.rejected").order_by("pk")]
    assert reasons and set(reasons) == {
        ("challenge reused", "renewal signer revoked", "PKCS_REQ")}, reasons
    assert IssuedCertificate.objects.filter(tenant=tenant).count() == 2
    assert _stored(cert_path).pk == second.pk


def _wait_for_new_certificate(certmonger, cert_path: Path, previous: IssuedCertificate,
                              timeout: float = 60) -> IssuedCertificate:
    """The certificate certmonger saved in place of ``previous`` (it may report MONITORING a
    moment before the file is written)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            current = _stored(cert_path)
        except (ValueError, IssuedCertificate.DoesNotExist):
            current = previous  # being written
        if current.pk != previous.pk:
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"the certificate was not replaced\n{certmonger.logs()}")
        time.sleep(0.2)


def test_certmonger_enrolls_under_an_imported_intermediate_ca(live_server, tenant, admin,
                                                               tmp_path, certmonger):
    """GetCACert answers the intermediate, its root and the RA: certmonger files the RA,
    verifies the CertRep with the chain it was given, and the certificate verifies up to the
    root."""
    from enrollment.services.authorities import do_import_ca
    from pki.authority import KeyPair
    from tests.base.scep.client import make_ca, make_intermediate_ca

    root = make_ca("Certmonger Root", path_length=None)
    intermediate = make_intermediate_ca(root, "Certmonger Intermediate")
    do_import_ca(tenant, KeyPair(intermediate.key, intermediate.cert, (root.cert,)),
                 actor=admin)
    certmonger.add_scep_ca("mdm", f"{live_server.url}/t/{tenant.slug}/scep")
    minted = do_create_challenge(tenant, actor=admin)
    cert_path, fields = _request(certmonger, tmp_path, minted.raw)
    assert fields["status"] == "MONITORING", (fields, certmonger.logs())
    (tmp_path / "root.pem").write_bytes(root.cert.public_bytes(Encoding.PEM))
    (tmp_path / "intermediate.pem").write_bytes(intermediate.cert.public_bytes(Encoding.PEM))
    _openssl_verify(cert_path, tmp_path / "root.pem", untrusted=tmp_path / "intermediate.pem")
    assert _stored(cert_path).authority.chain_pem
