"""The RA certificate (pki.registration_authority) and how the client tells it apart in a
GetCACert answer and accepts its CertReps (enrollment.scep.client)."""

from __future__ import annotations

import warnings

import pytest
from cryptography import x509

from enrollment.scep import capabilities, messages
from enrollment.scep.client import read_ca_certificates
from pki.authority import KeyPair
from pki.registration_authority import is_ra_certificate, issue_ra
from tests.base.scep.client import (
    ScepClientError,
    build_request,
    decode_cert_rep,
    issue_certificate,
    make_ca,
    make_csr,
    make_intermediate_ca,
    make_signer,
    new_key,
    shared_ca,
)


def _pair(identity, chain=()) -> KeyPair:
    return KeyPair(identity.key, identity.cert, tuple(chain))


def test_ra_is_an_end_entity_of_the_ca_that_signs_and_decrypts() -> None:
    ca = shared_ca()
    ra = issue_ra(_pair(ca))
    cert = ra.certificate
    cert.verify_directly_issued_by(ca.cert)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert cert.not_valid_after_utc == ca.cert.not_valid_after_utc
    assert cert.not_valid_before_utc >= ca.cert.not_valid_before_utc
    assert is_ra_certificate(cert) and not is_ra_certificate(ca.cert)
    assert ra.chain == (ca.cert,)


def test_ra_never_outlives_the_ca_or_any_issuer_above_it() -> None:
    root = make_ca("Root", path_length=None)
    intermediate = make_intermediate_ca(root, "Intermediate")  # 5 years, the root 10
    ra = issue_ra(_pair(intermediate, [root.cert]))
    assert ra.certificate.not_valid_after_utc == intermediate.cert.not_valid_after_utc
    # An issuer above that ends first (here one valid for an hour) bounds it as well.
    short = make_signer("Short-lived issuer")
    ra = issue_ra(_pair(intermediate, [short.cert]))
    assert ra.certificate.not_valid_after_utc == short.cert.not_valid_after_utc
    ra = issue_ra(_pair(intermediate, [root.cert]))
    assert ra.chain == (intermediate.cert, root.cert)


def _ca_ra_body(*certs: x509.Certificate) -> tuple[str, bytes]:
    return capabilities.get_ca_cert_response(list(certs))


def test_client_reads_a_lone_ca_as_both_ca_and_ra() -> None:
    ca = shared_ca()
    read = read_ca_certificates(*_ca_ra_body(ca.cert))
    assert (read.ca, read.ra) == (ca.cert, ca.cert)


def test_client_tells_the_ra_by_key_usage_wherever_it_stands() -> None:
    root = make_ca("Root", path_length=None)
    intermediate = make_intermediate_ca(root)
    ra = issue_ra(_pair(intermediate, [root.cert])).certificate
    for order in ([intermediate.cert, root.cert, ra], [ra, root.cert, intermediate.cert]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            read = read_ca_certificates(*_ca_ra_body(*order))
        assert (read.ca, read.ra) == (intermediate.cert, ra)


def test_client_without_an_ra_takes_the_first_certificate_as_the_ca() -> None:
    root = make_ca("Root", path_length=None)
    intermediate = make_intermediate_ca(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        read = read_ca_certificates(*_ca_ra_body(intermediate.cert, root.cert))
    assert (read.ca, read.ra) == (intermediate.cert, intermediate.cert)


def test_client_refuses_an_ra_whose_ca_is_missing() -> None:
    ra = issue_ra(_pair(shared_ca())).certificate
    other = make_ca("Other", key=new_key())
    with warnings.catch_warnings(), pytest.raises(ScepClientError):
        warnings.simplefilter("ignore", UserWarning)
        read_ca_certificates(*_ca_ra_body(other.cert, ra))


def _reply_signed_by(signer_key, signer_cert):
    ca = shared_ca()
    key = new_key()
    sent = build_request(make_csr(key, "dev"), make_signer("dev", key), ca.cert)
    msg = messages.parse_pki_message(sent.der)
    issued = issue_certificate(ca, sent.csr)
    return sent, messages.build_cert_rep_success(msg, issued, signer_key, signer_cert)


def test_client_accepts_a_certrep_signed_by_the_ra_it_was_given() -> None:
    ca = shared_ca()
    ra = issue_ra(_pair(ca))
    sent, reply = _reply_signed_by(ra.key, ra.certificate)
    result = decode_cert_rep(reply, sent, ca.cert, ra_cert=ra.certificate)
    assert result.certificate.issuer == ca.cert.subject
    with pytest.raises(ScepClientError, match="not signed by the CA or its RA"):
        decode_cert_rep(reply, sent, ca.cert)  # an RA the client was not given
    # Another certificate of this CA, a device's, looks like an RA but is not the one.
    device_key = new_key()
    device = issue_certificate(ca, make_csr(device_key, "a device"))
    sent, reply = _reply_signed_by(device_key, device)
    with pytest.raises(ScepClientError, match="not signed by the CA or its RA"):
        decode_cert_rep(reply, sent, ca.cert, ra_cert=ra.certificate)
