"""The RA certificate (pki.registration_authority)."""

from __future__ import annotations

from cryptography import x509

from pki.authority import KeyPair
from pki.registration_authority import is_ra_certificate, issue_ra
from tests.scep.scep_client import make_ca, make_intermediate_ca, make_signer, shared_ca


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
