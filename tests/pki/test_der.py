"""The DER reader/writer and the SignedData reader/writer, checked against asn1crypto and
OpenSSL's own encodings."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib

import pytest
from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from hypothesis import given, settings
from hypothesis import strategies as st

from pki import der, signed_data
from pki.keys import new_rsa_key


@pytest.fixture(scope="module")
def signer():
    key = new_rsa_key()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "signer"),
                      x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Acme")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(0x1234567890ABCDEF)
            .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2034, 1, 1, tzinfo=dt.UTC))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    return key, cert


@given(st.integers(min_value=-(2**160), max_value=2**160))
@settings(max_examples=200, deadline=None)
def test_integers_match_asn1crypto(value):
    encoded = der.encode_integer(value)
    assert encoded == core.Integer(value).dump()
    assert der.decode_integer(der.read_whole(encoded)) == value


@pytest.mark.parametrize("oid", ["1.2.840.113549.1.7.2", "2.16.840.1.113733.1.9.7",
                                 "2.5.4.3", "1.3.6.1.4.1.311.21.7", "2.999.1"])
def test_oids_match_asn1crypto(oid):
    encoded = der.encode_oid(oid)
    assert encoded == core.ObjectIdentifier(oid).dump()
    assert der.decode_oid(der.read_whole(encoded)) == oid


def test_times_and_lengths():
    early = dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    late = dt.datetime(2051, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert der.encode_time(early) == cms.Time(name="utc_time", value=early).dump()
    assert der.encode_time(late) == cms.Time(name="generalized_time", value=late).dump()
    assert der.decode_time(der.read_whole(der.encode_time(late))) == late
    for size in (0, 1, 127, 128, 255, 256, 70000):
        assert der.encode_octets(b"x" * size) == core.OctetString(b"x" * size).dump()


def test_reads_indefinite_length_and_constructed_octets():
    # [0] constructed, indefinite length, holding an OCTET STRING in two chunks.
    ber = bytes([0x24, 0x80, 0x04, 0x02]) + b"ab" + bytes([0x04, 0x01]) + b"c" + b"\x00\x00"
    node = der.read_whole(ber)
    assert der.decode_octets(node) == b"abc"
    assert node.end == len(ber)


@pytest.mark.parametrize("data", [
    b"", b"\x30", b"\x30\x05\x02\x01", b"\x30\x80\x02\x01\x01",  # truncated, no end marker
    b"\x1f\x01\x00",  # high tag number
    b"\x04\x80\x00\x00",  # indefinite primitive
    b"\x30\x85\x01\x00\x00\x00\x00",  # 5-byte length
    b"\x02\x01\x01\x00",  # trailing byte
])
def test_malformed_input_is_a_der_error(data):
    with pytest.raises(der.DerError):
        der.read_whole(data)


def test_deep_nesting_is_refused():
    data = b"\x30\x80" * 100 + b"\x00\x00" * 100
    with pytest.raises(der.DerError):
        der.read_whole(data)


def _openssl_signed(key, cert, content: bytes, detached: bool) -> bytes:
    options = [pkcs7.PKCS7Options.DetachedSignature] if detached else []
    return (pkcs7.PKCS7SignatureBuilder().set_data(content)
            .add_signer(cert, key, hashes.SHA256()).sign(Encoding.DER, options))


@pytest.mark.parametrize("detached", [True, False])
def test_reads_what_openssl_signs(signer, detached):
    key, cert = signer
    data = _openssl_signed(key, cert, b"the body", detached)
    parsed = signed_data.parse(data)
    assert parsed.content == (None if detached else b"the body")
    [one] = parsed.signers
    assert one.digest_name == "sha256" and one.signature_family == "rsa"
    assert signed_data.signer_certificate(parsed, one) == cert.public_bytes(Encoding.DER)
    digest = der.decode_octets(signed_data.only(
        one.attributes[signed_data.MESSAGE_DIGEST_ATTR]))
    assert digest == hashlib.sha256(b"the body").digest()
    cert.public_key().verify(one.signature, one.signed_attrs, padding.PKCS1v15(),
                             hashes.SHA256())
    # Same values as asn1crypto reads.
    reference = cms.ContentInfo.load(data)["content"]["signer_infos"][0]
    assert one.signature == reference["signature"].native
    assert one.serial == reference["sid"].chosen["serial_number"].native


def test_writes_what_openssl_verifies(openssl, signer, tmp_path):
    key, cert = signer
    content = b"hello from our writer"
    cert_der = cert.public_bytes(Encoding.DER)
    attributes = signed_data.signed_attributes([
        signed_data.attribute(signed_data.CONTENT_TYPE_ATTR, der.encode_oid(signed_data.DATA)),
        signed_data.attribute(signed_data.MESSAGE_DIGEST_ATTR,
                              der.encode_octets(hashlib.sha256(content).digest())),
        signed_data.attribute(signed_data.SIGNING_TIME_ATTR,
                              der.encode_time(dt.datetime.now(dt.UTC))),
    ])
    signature = key.sign(attributes, padding.PKCS1v15(), hashes.SHA256())
    written = signed_data.build(content=content, certificates=[cert_der],
                                signer_certificate=cert_der, digest_name="sha256",
                                signature_algorithm=signed_data.RSA_ENCRYPTION,
                                signed_attrs=attributes, signature=signature)
    assert cms.ContentInfo.load(written)["content"]["signer_infos"][0]["signature"].native \
        == signature
    (tmp_path / "msg.der").write_bytes(written)
    (tmp_path / "ca.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    result = openssl("cms", "-verify", "-inform", "DER", "-in", tmp_path / "msg.der",
                     "-CAfile", tmp_path / "ca.pem", "-purpose", "any")
    assert result.returncode == 0, result.stderr
    assert result.stdout == content


def test_certificates_only_matches_asn1crypto(signer):
    _, cert = signer
    cert_der = cert.public_bytes(Encoding.DER)
    ours = signed_data.certificates_only([cert_der])
    reference = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData({
        "version": "v1", "digest_algorithms": [], "encap_content_info": {"content_type": "data"},
        "certificates": [asn1_x509.Certificate.load(cert_der)], "signer_infos": []})}).dump()
    assert ours == reference
    assert pkcs7.load_der_pkcs7_certificates(ours) == [cert]


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_garbage_only_raises_der_error(data):
    with contextlib.suppress(der.DerError):
        signed_data.parse(data)


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_mutated_signed_data_only_raises_der_error(signer, data):
    key, cert = signer
    original = bytearray(_openssl_signed(key, cert, b"x", True))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    try:
        parsed = signed_data.parse(bytes(original))
        for one in parsed.signers:
            signed_data.signer_certificate(parsed, one)
    except der.DerError:
        pass
