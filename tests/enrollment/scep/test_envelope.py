"""EnvelopedData: round trips, other implementations both ways, BER forms, refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs7,
)

from enrollment.scep import envelope
from enrollment.scep.envelope import ContentCipher
from enrollment.scep.errors import BadAlg, BadCertId, BadMessageCheck, BadRequest
from tests.base.interop import OPENSSL
from tests.base.scep.client import FIXTURES, make_ca, micromdm_ca, new_key, shared_ca

PLAINTEXT = b"a certification request, or any bytes" * 7


def _tlv(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return bytes([tag, length]) + body
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + body


def _with_encrypted_content(der: bytes, encrypted_content: bytes) -> bytes:
    """Re-encode a ContentInfo(EnvelopedData) with another [0] encryptedContent encoding."""
    info = cms.ContentInfo.load(der)
    enveloped = info["content"]
    eci = enveloped["encrypted_content_info"]
    new_eci = _tlv(
        0x30,
        eci["content_type"].dump() + eci["content_encryption_algorithm"].dump() + encrypted_content,
    )
    body = enveloped["version"].dump() + enveloped["recipient_infos"].dump() + new_eci
    return _tlv(0x30, info["content_type"].dump() + _tlv(0xA0, _tlv(0x30, body)))


def _ciphertext(der: bytes) -> bytes:
    return cms.ContentInfo.load(der)["content"]["encrypted_content_info"][
        "encrypted_content"
    ].native


@pytest.mark.parametrize("cipher", list(ContentCipher))
def test_round_trip_every_cipher(cipher: ContentCipher) -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT, cipher)
    assert envelope.content_cipher(der) is cipher
    assert envelope.decrypt(der, ca.key, ca.cert) == PLAINTEXT


@pytest.mark.parametrize("size", [0, 1, 7, 8, 15, 16, 17])
def test_padding_boundaries(size: int) -> None:
    ca = shared_ca()
    for cipher in (ContentCipher.DES3, ContentCipher.AES128):
        der = envelope.encrypt_for(ca.cert, b"x" * size, cipher)
        assert envelope.decrypt(der, ca.key, ca.cert) == b"x" * size


@pytest.mark.parametrize("cipher", [ContentCipher.AES128, ContentCipher.AES256])
def test_cryptography_decrypts_ours(cipher: ContentCipher) -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT, cipher)
    assert pkcs7.pkcs7_decrypt_der(der, ca.cert, ca.key, []) == PLAINTEXT


@pytest.mark.parametrize("algorithm", [algorithms.AES128, algorithms.AES256])
def test_we_decrypt_cryptography(algorithm: type) -> None:
    ca = shared_ca()
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(PLAINTEXT).add_recipient(ca.cert)
    der = builder.set_content_encryption_algorithm(algorithm).encrypt(Encoding.DER, [])
    assert envelope.decrypt(der, ca.key, ca.cert) == PLAINTEXT


@pytest.mark.parametrize("cipher", ["des3", "aes192", "aes256"])
def test_openssl_decrypts_ours(openssl, cipher: str, tmp_path: Path) -> None:
    ca = shared_ca()
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(
        ca.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    (tmp_path / "env.der").write_bytes(envelope.encrypt_for(ca.cert, PLAINTEXT, cipher))
    out = openssl("cms", "-decrypt", "-inform", "DER", "-in", tmp_path / "env.der",
                  "-recip", tmp_path / "ca.pem", "-inkey", tmp_path / "ca.key", "-binary",
                  check=True)
    assert out.stdout == PLAINTEXT


@pytest.mark.parametrize("cipher", ["-des3", "-aes192", "-aes128"])
def test_we_decrypt_openssl_streamed_ber(openssl, cipher: str, tmp_path: Path) -> None:
    """``-stream`` makes indefinite-length BER with a chunked encryptedContent."""
    ca = shared_ca()
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    (tmp_path / "in.bin").write_bytes(PLAINTEXT * 200)  # several chunks
    out = openssl("cms", "-encrypt", "-stream", "-binary", cipher, "-outform", "DER",
                  "-in", tmp_path / "in.bin", tmp_path / "ca.pem", check=True)
    assert out.stdout[1] == 0x80  # indefinite length indeed
    assert envelope.decrypt(out.stdout, ca.key, ca.cert) == PLAINTEXT * 200


def test_micromdm_scepclient_envelope_des_constructed() -> None:
    """The captured scepclient request: single DES, encryptedContent BER constructed."""
    ca = micromdm_ca()
    signed = cms.ContentInfo.load((FIXTURES / "pkcsreq_des_sha1.der").read_bytes())
    der = signed["content"]["encap_content_info"]["content"].native
    assert envelope.content_cipher(der) is ContentCipher.DES
    csr = x509.load_der_x509_csr(envelope.decrypt(der, ca.key, ca.cert))
    assert csr.is_signature_valid


@pytest.mark.parametrize(
    "encode",
    [
        lambda c: _tlv(0xA0, _tlv(0x04, c[:5]) + _tlv(0x04, c[5:])),
        lambda c: b"\xa0\x80" + _tlv(0x04, c[:8]) + _tlv(0x04, c[8:]) + b"\x00\x00",
        lambda c: _tlv(
            0xA0, _tlv(0x24, _tlv(0x04, c[:3]) + _tlv(0x04, c[3:9])) + _tlv(0x04, c[9:])
        ),
        lambda c: _tlv(0xA0, _tlv(0x04, b"") + _tlv(0x04, c)),
        lambda c: _tlv(0x80, c),
    ],
    ids=["definite-chunks", "indefinite-chunks", "nested", "empty-chunk", "primitive"],
)
def test_encrypted_content_encodings(encode) -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT, ContentCipher.AES128)
    rewritten = _with_encrypted_content(der, encode(_ciphertext(der)))
    assert envelope.decrypt(rewritten, ca.key, ca.cert) == PLAINTEXT


@pytest.mark.parametrize(
    "encode",
    [
        lambda c: _tlv(0xA0, _tlv(0x02, c)),  # chunk is not an OCTET STRING
        lambda c: b"\xa0\x80" + _tlv(0x04, c),  # no end-of-contents
        lambda c: b"",  # absent
        lambda c: _tlv(0xA0, _tlv(0x04, c))[:-3],  # truncated
    ],
)
def test_malformed_encrypted_content_is_bad_request(encode) -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT, ContentCipher.AES128)
    with pytest.raises(BadRequest):
        envelope.decrypt(_with_encrypted_content(der, encode(_ciphertext(der))), ca.key, ca.cert)


def test_encrypted_for_another_ca_is_bad_cert_id() -> None:
    ca, other = shared_ca(), make_ca("Another CA", key=new_key())
    der = envelope.encrypt_for(other.cert, PLAINTEXT)
    with pytest.raises(BadCertId):
        envelope.decrypt(der, ca.key, ca.cert)


def _ra_of(ca):
    from pki.authority import KeyPair
    from pki.registration_authority import issue_ra

    return issue_ra(KeyPair(ca.key, ca.cert))


def test_encrypted_to_the_ra_or_to_its_ca_both_decrypt() -> None:
    """Clients that got CA and RA from GetCACert encrypt to the RA (RFC 8894); some to the CA,
    and envelopes made before the RA existed are for the CA: each recipient is read."""
    ca = shared_ca()
    ra = _ra_of(ca)
    for recipient in (ra.certificate, ca.cert):
        der = envelope.encrypt_for(recipient, PLAINTEXT)
        assert envelope.decrypt(der, ra.key, ra.certificate,
                                also=[(ca.key, ca.cert)]) == PLAINTEXT
    with pytest.raises(BadCertId):  # without the CA among the candidates
        envelope.decrypt(envelope.encrypt_for(ca.cert, PLAINTEXT), ra.key, ra.certificate)


def test_envelope_for_several_recipients_is_read_with_the_ras_key(tmp_path: Path) -> None:
    """micromdm's scepclient encrypts to every certificate GetCACert returned: one
    RecipientInfo each, of which only the RA's and the CA's are ours."""
    ca, stranger = shared_ca(), make_ca("Stranger", key=new_key())
    ra = _ra_of(ca)
    (tmp_path / "in.bin").write_bytes(PLAINTEXT)
    for name, cert in (("stranger", stranger.cert), ("ca", ca.cert), ("ra", ra.certificate)):
        (tmp_path / f"{name}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    out = subprocess.run(
        [OPENSSL or "openssl", "cms", "-encrypt", "-binary", "-aes256", "-outform", "DER",
         "-in", tmp_path / "in.bin", tmp_path / "stranger.pem", tmp_path / "ca.pem",
         tmp_path / "ra.pem"], capture_output=True, check=True)
    assert envelope.decrypt(out.stdout, ra.key, ra.certificate,
                            also=[(ca.key, ca.cert)]) == PLAINTEXT
    # The RA is preferred: with a wrong key for the CA, the RA's still opens it.
    assert envelope.decrypt(out.stdout, ra.key, ra.certificate,
                            also=[(new_key(), ca.cert)]) == PLAINTEXT


def test_wrong_private_key_is_bad_message_check() -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT)
    with pytest.raises(BadMessageCheck):
        envelope.decrypt(der, new_key(), ca.cert)


def test_bad_padding_is_bad_message_check() -> None:
    ca = shared_ca()
    # 32 zero bytes: dropping the all-padding last block leaves a final 0x00, never valid.
    der = envelope.encrypt_for(ca.cert, bytes(32), ContentCipher.AES128)
    ciphertext = _ciphertext(der)
    truncated = _with_encrypted_content(der, _tlv(0x80, ciphertext[:-16]))
    with pytest.raises(BadMessageCheck):
        envelope.decrypt(truncated, ca.key, ca.cert)
    odd = _with_encrypted_content(der, _tlv(0x80, ciphertext[:-1]))
    with pytest.raises(BadMessageCheck):
        envelope.decrypt(odd, ca.key, ca.cert)


def _mutated(der: bytes, mutate) -> bytes:
    info = cms.ContentInfo.load(der)
    mutate(info["content"])
    return info.dump(force=True)


def test_unsupported_content_cipher_is_bad_alg() -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT, ContentCipher.AES128)

    def to_gcm(enveloped: cms.EnvelopedData) -> None:
        enveloped["encrypted_content_info"]["content_encryption_algorithm"] = {
            "algorithm": "2.16.840.1.101.3.4.1.6",  # AES-128-GCM
        }

    with pytest.raises(BadAlg):
        envelope.decrypt(_mutated(der, to_gcm), ca.key, ca.cert)


def test_oaep_key_transport_is_bad_alg() -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT)

    def to_oaep(enveloped: cms.EnvelopedData) -> None:
        enveloped["recipient_infos"][0].chosen["key_encryption_algorithm"] = {
            "algorithm": "rsaes_oaep"
        }

    with pytest.raises(BadAlg):
        envelope.decrypt(_mutated(der, to_oaep), ca.key, ca.cert)


def test_recipient_by_subject_key_identifier() -> None:
    ca = shared_ca()
    der = envelope.encrypt_for(ca.cert, PLAINTEXT)
    ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    def to_ski(enveloped: cms.EnvelopedData) -> None:
        enveloped["recipient_infos"][0].chosen["rid"] = cms.RecipientIdentifier(
            name="subject_key_identifier", value=ski
        )

    assert envelope.decrypt(_mutated(der, to_ski), ca.key, ca.cert) == PLAINTEXT


def test_not_enveloped_data_is_bad_request() -> None:
    ca = shared_ca()
    for junk in (b"", b"\x30\x00", b"not der at all", (FIXTURES / "ca.cert.pem").read_bytes()):
        with pytest.raises(BadRequest):
            envelope.decrypt(junk, ca.key, ca.cert)


def test_response_cipher_upgrades_only_single_des() -> None:
    assert envelope.response_cipher_for(ContentCipher.DES) is ContentCipher.DES3
    for cipher in (ContentCipher.DES3, ContentCipher.AES128, ContentCipher.AES256):
        assert envelope.response_cipher_for(cipher) is cipher


def test_encrypt_for_needs_an_rsa_recipient() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(shared_ca().cert.not_valid_before_utc)
        .not_valid_after(shared_ca().cert.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(BadAlg):
        envelope.encrypt_for(cert, PLAINTEXT)
