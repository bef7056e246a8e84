"""pkiMessage parsing, verification, CSR decryption and CertRep building."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from enrollment.scep import envelope, messages
from enrollment.scep.envelope import ContentCipher
from enrollment.scep.errors import (
    BadAlg,
    BadCertId,
    BadMessageCheck,
    BadRequest,
    ReplyTo,
    UnparseableMessage,
)
from enrollment.scep.oids import FailInfo, MessageType, PKIStatus
from tests.base.interop import OPENSSL
from tests.base.scep.client import (
    FIXTURES,
    Identity,
    build_request,
    decode_cert_rep,
    issue_certificate,
    make_ca,
    make_csr,
    make_signer,
    micromdm_ca,
    shared_ca,
)


@cache
def _signer() -> Identity:
    """One signer for the module keeps the suite fast (RSA key generation is slow)."""
    return make_signer()


def _request(**options):
    signer = _signer()
    csr = make_csr(signer.key, "device-42", options.pop("challenge", "pw-123"))
    return build_request(csr, signer, shared_ca().cert, **options)


# --- real micromdm scepclient messages ----------------------------------------------------


def test_micromdm_pkcsreq_fixture() -> None:
    ca = micromdm_ca()
    msg = messages.parse_pki_message((FIXTURES / "pkcsreq_des_sha1.der").read_bytes())
    assert msg.message_type is MessageType.PKCS_REQ
    assert msg.transaction_id == "ftYZZdALwZpdU5ne170GWkZogjQ="
    assert len(msg.sender_nonce) == 16
    assert msg.digest_algorithm == "sha1"
    assert msg.signing_time is not None
    assert msg.signer_cert.subject.rfc4514_string() == "CN=SCEP SIGNER,O=scep-client"
    request = messages.decrypt_request(msg, ca.key, ca.cert)
    assert request.challenge_password == "secret-pw"
    assert request.content_cipher is ContentCipher.DES
    assert request.csr.subject.rfc4514_string() == "CN=device-1,OU=MDM,O=scep-client,C=US"
    assert request.csr.public_key() == msg.signer_cert.public_key()


def test_micromdm_renewalreq_fixture_is_signed_by_the_issued_cert() -> None:
    ca = micromdm_ca()
    msg = messages.parse_pki_message((FIXTURES / "renewalreq_des_sha1.der").read_bytes())
    assert msg.message_type is MessageType.RENEWAL_REQ
    msg.signer_cert.verify_directly_issued_by(ca.cert)
    assert messages.decrypt_request(msg, ca.key, ca.cert).challenge_password == "secret-pw"


def test_micromdm_certrep_fixture_decodes_with_the_test_client() -> None:
    ca = micromdm_ca()
    msg = messages.parse_pki_message((FIXTURES / "certrep_micromdm_success.der").read_bytes())
    assert msg.message_type is MessageType.CERT_REP
    assert msg.pki_status is PKIStatus.SUCCESS
    assert msg.signer_cert == ca.cert
    client_key = serialization.load_pem_private_key(
        (FIXTURES / "client.key.pem").read_bytes(), None
    )
    request = messages.parse_pki_message((FIXTURES / "pkcsreq_des_sha1.der").read_bytes())
    certs_only = envelope.decrypt(msg.envelope, client_key, request.signer_cert)
    issued = pkcs7.load_der_pkcs7_certificates(certs_only)[0]
    issued.verify_directly_issued_by(ca.cert)
    assert msg.recipient_nonce == request.sender_nonce


def test_fixture_encrypted_for_another_ca_is_bad_cert_id() -> None:
    ca = shared_ca()
    msg = messages.parse_pki_message((FIXTURES / "pkcsreq_des_sha1.der").read_bytes())
    with pytest.raises(BadCertId) as caught:
        messages.decrypt_request(msg, ca.key, ca.cert)
    assert caught.value.reply_to == msg.reply_to
    assert caught.value.fail_info is FailInfo.BAD_CERT_ID


# --- full exchanges with the test client --------------------------------------------------


@pytest.mark.parametrize("cipher", ["des", "des3", "aes128", "aes192", "aes256"])
@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
def test_exchange(cipher: str, digest: str) -> None:
    ca = shared_ca()
    sent = _request(cipher=cipher, digest=digest)
    msg = messages.parse_pki_message(sent.der)
    assert (msg.transaction_id, msg.sender_nonce) == (sent.transaction_id, sent.sender_nonce)
    request = messages.decrypt_request(msg, ca.key, ca.cert)
    assert request.challenge_password == "pw-123"
    assert request.content_cipher == cipher
    issued = issue_certificate(ca, request.csr)
    reply = messages.build_cert_rep_success(msg, issued, ca.key, ca.cert)
    result = decode_cert_rep(reply, sent, ca.cert)
    assert result.status is PKIStatus.SUCCESS
    assert result.certificate == issued
    assert result.message.digest_algorithm == digest
    assert result.message.sender_nonce != sent.sender_nonce
    expected = envelope.response_cipher_for(ContentCipher(cipher))
    assert envelope.content_cipher(result.message.envelope) is expected


def test_success_with_chain_and_explicit_cipher() -> None:
    ca = shared_ca()
    sent = _request(cipher="des")
    msg = messages.parse_pki_message(sent.der)
    issued = issue_certificate(ca, messages.decrypt_request(msg, ca.key, ca.cert).csr)
    reply = messages.build_cert_rep_success(
        msg, issued, ca.key, ca.cert, cipher=ContentCipher.AES128, chain=[ca.cert]
    )
    result = decode_cert_rep(reply, sent, ca.cert)
    assert result.certificates == [issued, ca.cert]
    assert envelope.content_cipher(result.message.envelope) is ContentCipher.AES128


def test_renewal_signed_by_issued_certificate() -> None:
    ca = shared_ca()
    first = _request()
    msg = messages.parse_pki_message(first.der)
    issued = issue_certificate(ca, messages.decrypt_request(msg, ca.key, ca.cert).csr)
    renewal = build_request(
        make_csr(first.signer.key, "device-42"),
        Identity(first.signer.key, issued),
        ca.cert,
        message_type=MessageType.RENEWAL_REQ,
    )
    msg = messages.parse_pki_message(renewal.der)
    assert msg.message_type is MessageType.RENEWAL_REQ
    assert msg.signer_cert == issued
    assert messages.decrypt_request(msg, ca.key, ca.cert).challenge_password is None


@pytest.mark.parametrize("fail_info", list(FailInfo))
def test_failure_reply(fail_info: FailInfo) -> None:
    ca = shared_ca()
    sent = _request(digest="sha512")
    msg = messages.parse_pki_message(sent.der)
    result = decode_cert_rep(
        messages.build_cert_rep_failure(msg, fail_info, ca.key, ca.cert), sent, ca.cert
    )
    assert (result.status, result.fail_info) == (PKIStatus.FAILURE, fail_info)
    assert result.message.envelope == b""
    assert result.message.digest_algorithm == "sha512"


def test_pending_reply_from_reply_to() -> None:
    ca = shared_ca()
    sent = _request()
    reply_to = ReplyTo(sent.transaction_id, sent.sender_nonce, "sha1")
    result = decode_cert_rep(
        messages.build_cert_rep_pending(reply_to, ca.key, ca.cert), sent, ca.cert
    )
    assert (result.status, result.fail_info) == (PKIStatus.PENDING, None)
    assert result.message.digest_algorithm == "sha1"



def test_openssl_verifies_cert_reps(openssl, tmp_path: Path) -> None:
    ca = shared_ca()
    sent = _request()
    msg = messages.parse_pki_message(sent.der)
    issued = issue_certificate(ca, messages.decrypt_request(msg, ca.key, ca.cert).csr)
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    replies = {
        "success": messages.build_cert_rep_success(msg, issued, ca.key, ca.cert),
        "failure": messages.build_cert_rep_failure(msg, FailInfo.BAD_TIME, ca.key, ca.cert),
    }
    for name, der in replies.items():
        (tmp_path / name).write_bytes(der)
        command = ["cms", "-verify", "-inform", "DER", "-in"]
        command += [str(tmp_path / name), "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "any"]
        command += ["-out", "/dev/null"]
        openssl(*command, check=True)


@pytest.mark.parametrize("status", ["failure", "pending"])
def test_openssl_pkcs7_verify_reads_a_reply_without_envelope(tmp_path: Path, status) -> None:
    """certmonger checks a CertRep with OpenSSL's PKCS7_verify (what `openssl smime -verify`
    runs), which refuses a SignedData with no content: a refusal encapsulates empty data."""
    ca = shared_ca()
    sent = _request()
    msg = messages.parse_pki_message(sent.der)
    der = (messages.build_cert_rep_failure(msg, FailInfo.BAD_REQUEST, ca.key, ca.cert)
           if status == "failure" else messages.build_cert_rep_pending(msg, ca.key, ca.cert))
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    (tmp_path / "reply.der").write_bytes(der)
    verified = subprocess.run(
        [OPENSSL or "openssl", "smime", "-verify", "-inform", "DER", "-in",
         str(tmp_path / "reply.der"), "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "any",
         "-out", str(tmp_path / "content")], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    assert (tmp_path / "content").read_bytes() == b""


# --- challengePassword and CSR checks -----------------------------------------------------


@pytest.mark.parametrize("challenge_type", ["printable", "utf8", "ia5", "bmp"])
def test_challenge_password_string_types(challenge_type: str) -> None:
    ca = shared_ca()
    signer = _signer()
    password = "pw-123" if challenge_type == "printable" else "pässwörd+/=é"
    if challenge_type == "ia5":
        password = "ia5+pw@example"
    csr = make_csr(signer.key, "d", password, challenge_type)
    msg = messages.parse_pki_message(build_request(csr, signer, ca.cert).der)
    assert messages.decrypt_request(msg, ca.key, ca.cert).challenge_password == password


def test_no_challenge_password() -> None:
    ca = shared_ca()
    msg = messages.parse_pki_message(_request(challenge=None).der)
    assert messages.decrypt_request(msg, ca.key, ca.cert).challenge_password is None


def test_csr_with_bad_signature_is_bad_message_check() -> None:
    ca, signer = shared_ca(), _signer()
    csr_der = bytearray(make_csr(signer.key, "d", "pw").public_bytes(Encoding.DER))
    csr_der[-1] ^= 0x01
    enveloped = envelope.encrypt_for(ca.cert, bytes(csr_der))
    der = messages.sign_pki_message(
        enveloped,
        message_type=MessageType.PKCS_REQ,
        transaction_id="t-1",
        sender_nonce=b"n" * 16,
        signer_key=signer.key,
        signer_cert=signer.cert,
    )
    with pytest.raises(BadMessageCheck) as caught:
        messages.decrypt_request(messages.parse_pki_message(der), ca.key, ca.cert)
    assert caught.value.reply_to == ReplyTo("t-1", b"n" * 16, "sha256")


def test_envelope_holding_no_csr_is_bad_request() -> None:
    ca, signer = shared_ca(), _signer()
    der = messages.sign_pki_message(
        envelope.encrypt_for(ca.cert, b"not a CSR"),
        message_type=MessageType.PKCS_REQ,
        transaction_id="t-2",
        sender_nonce=b"n" * 16,
        signer_key=signer.key,
        signer_cert=signer.cert,
    )
    with pytest.raises(BadRequest) as caught:
        messages.decrypt_request(messages.parse_pki_message(der), ca.key, ca.cert)
    assert caught.value.reply_to is not None


@pytest.mark.parametrize("message_type", [MessageType.GET_CRL, MessageType.CERT_POLL])
def test_decrypt_request_refuses_other_message_types(message_type: MessageType) -> None:
    ca = shared_ca()
    msg = messages.parse_pki_message(_request(message_type=message_type).der)
    assert msg.message_type is message_type
    with pytest.raises(BadRequest):
        messages.decrypt_request(msg, ca.key, ca.cert)
    assert messages.decrypt_pki_envelope(msg, ca.key, ca.cert)  # the CSR here; policy decides


# --- integrity failures -------------------------------------------------------------------


def _resigned(der: bytes, mutate) -> bytes:
    info = cms.ContentInfo.load(der)
    mutate(info["content"])
    return info.dump(force=True)


def test_flipped_signature_is_bad_message_check() -> None:
    sent = _request()

    def flip(signed_data: cms.SignedData) -> None:
        signature = bytearray(signed_data["signer_infos"][0]["signature"].native)
        signature[10] ^= 0x40
        signed_data["signer_infos"][0]["signature"] = bytes(signature)

    with pytest.raises(BadMessageCheck) as caught:
        messages.parse_pki_message(_resigned(sent.der, flip))
    assert caught.value.reply_to == ReplyTo(sent.transaction_id, sent.sender_nonce, "sha256")


def test_swapped_content_is_bad_message_check() -> None:
    sent, other = _request(), _request()
    other_content = cms.ContentInfo.load(other.der)["content"]["encap_content_info"]["content"]

    def swap(signed_data: cms.SignedData) -> None:
        signed_data["encap_content_info"]["content"] = other_content.native

    with pytest.raises(BadMessageCheck, match="messageDigest"):
        messages.parse_pki_message(_resigned(sent.der, swap))


def test_missing_signer_certificate_is_bad_message_check() -> None:
    other = asn1_x509.Certificate.load(micromdm_ca().cert.public_bytes(Encoding.DER))

    def replace(signed_data: cms.SignedData) -> None:
        signed_data["certificates"] = [cms.CertificateChoices(name="certificate", value=other)]

    with pytest.raises(BadMessageCheck, match="signer certificate"):
        messages.parse_pki_message(_resigned(_request().der, replace))


def test_ber_constructed_econtent_is_accepted() -> None:
    """Streaming encoders send eContent as a constructed OCTET STRING of chunks."""
    sent = _request()
    signed_data = cms.ContentInfo.load(sent.der)["content"]
    content = signed_data["encap_content_info"]["content"].native
    chunks = b"".join(_tlv(0x04, content[i : i + 100]) for i in range(0, len(content), 100))
    encap = _tlv(0x30, cms.ContentType("data").dump() + _tlv(0xA0, b"\x24\x80" + chunks + b"\0\0"))
    body = signed_data["version"].dump() + signed_data["digest_algorithms"].dump() + encap
    body += signed_data["certificates"].dump() + signed_data["signer_infos"].dump()
    der = _tlv(0x30, cms.ContentType("signed_data").dump() + _tlv(0xA0, _tlv(0x30, body)))
    msg = messages.parse_pki_message(der)
    assert msg.envelope == content
    assert messages.decrypt_request(msg, shared_ca().key, shared_ca().cert).csr == sent.csr


def _tlv(tag: int, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return bytes([tag, length]) + body
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + body


def test_unsupported_digest_is_bad_alg() -> None:
    sent = _request()

    def md5(signed_data: cms.SignedData) -> None:
        signed_data["signer_infos"][0]["digest_algorithm"] = {"algorithm": "md5"}

    with pytest.raises(BadAlg) as caught:
        messages.parse_pki_message(_resigned(sent.der, md5))
    assert caught.value.reply_to is not None
    assert caught.value.reply_to.digest_algorithm == "sha256"


def test_unknown_message_type_is_bad_request() -> None:
    signer = _signer()
    der = messages.sign_pki_message(
        b"",
        message_type=99,  # type: ignore[arg-type]
        transaction_id="t-3",
        sender_nonce=b"n" * 16,
        signer_key=signer.key,
        signer_cert=signer.cert,
    )
    with pytest.raises(BadRequest):
        messages.parse_pki_message(der)


def test_signer_identified_by_subject_key_identifier() -> None:
    ca = make_ca("SKI signer")  # has a SubjectKeyIdentifier extension
    sent = build_request(make_csr(ca.key), ca, shared_ca().cert)
    ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    def to_ski(signed_data: cms.SignedData) -> None:
        signed_data["signer_infos"][0]["sid"] = cms.SignerIdentifier(
            name="subject_key_identifier", value=ski
        )

    assert messages.parse_pki_message(_resigned(sent.der, to_ski)).signer_cert == ca.cert


@pytest.mark.parametrize(
    "junk",
    [b"", b"\x30", b"\x30\x00", b"hello", (FIXTURES / "ca.cert.pem").read_bytes()],
)
def test_junk_is_unparseable(junk: bytes) -> None:
    with pytest.raises(UnparseableMessage) as caught:
        messages.parse_pki_message(junk)
    assert caught.value.reply_to is None and caught.value.fail_info is None


def test_degenerate_certificates_is_certs_only_pkcs7() -> None:
    ca, other = shared_ca(), micromdm_ca()
    der = messages.degenerate_certificates([ca.cert, other.cert])
    assert pkcs7.load_der_pkcs7_certificates(der) == [ca.cert, other.cert]


def test_ecdsa_signer_verifies_but_cannot_receive_an_envelope() -> None:
    ca = shared_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ec signer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(ca.cert.not_valid_before_utc)
        .not_valid_after(ca.cert.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    der = messages.sign_pki_message(
        envelope.encrypt_for(ca.cert, make_csr(_signer().key).public_bytes(Encoding.DER)),
        message_type=MessageType.PKCS_REQ,
        transaction_id="ec",
        sender_nonce=b"e" * 16,
        signer_key=key,
        signer_cert=cert,
        digest_algorithm="sha512",
    )
    msg = messages.parse_pki_message(der)
    assert msg.signer_cert == cert
    with pytest.raises(BadAlg):
        messages.decrypt_request(msg, ca.key, ca.cert)


@pytest.mark.parametrize("transaction_id", ["ABC+/=09", "dev_1@example.com", "ключ"])
def test_transaction_id_echoed_whatever_its_characters(transaction_id: str) -> None:
    ca = shared_ca()
    sent = _request(transaction_id=transaction_id)
    msg = messages.parse_pki_message(sent.der)
    assert msg.transaction_id == transaction_id
    reply = messages.build_cert_rep_pending(msg, ca.key, ca.cert)
    assert decode_cert_rep(reply, sent, ca.cert).message.transaction_id == transaction_id
