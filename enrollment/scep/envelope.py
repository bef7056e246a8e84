"""CMS EnvelopedData for SCEP's pkcsPKIEnvelope (RFC 8894 section 3.2.2; RFC 5652 section 6).

Decrypts what a client encrypted for the CA/RA certificate (RSA PKCS#1 v1.5 key transport;
DES, DES-EDE3, AES-128/192/256 in CBC mode) and builds the envelope of a CertRep.
cryptography's own PKCS#7 decryption is not used: it refuses DES, DES3 and AES-192, which
SCEP clients still send. Errors are ``ScepError`` subclasses only.
"""

from __future__ import annotations

import os
from enum import StrEnum

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import DECODE_ERRORS, BadAlg, BadCertId, BadMessageCheck, BadRequest, ScepError


class ContentCipher(StrEnum):
    DES = "des"  # single DES: read only, never chosen for a reply (see response_cipher_for)
    DES3 = "des3"
    AES128 = "aes128"
    AES192 = "aes192"
    AES256 = "aes256"


_CIPHER_OIDS: dict[ContentCipher, str] = {
    ContentCipher.DES: "1.3.14.3.2.7",
    ContentCipher.DES3: "1.2.840.113549.3.7",
    ContentCipher.AES128: "2.16.840.1.101.3.4.1.2",
    ContentCipher.AES192: "2.16.840.1.101.3.4.1.22",
    ContentCipher.AES256: "2.16.840.1.101.3.4.1.42",
}
_CIPHER_BY_OID = {oid: cipher for cipher, oid in _CIPHER_OIDS.items()}
_KEY_BYTES = {
    ContentCipher.DES: 8,
    ContentCipher.DES3: 24,
    ContentCipher.AES128: 16,
    ContentCipher.AES192: 24,
    ContentCipher.AES256: 32,
}
_RSA_PKCS1V15 = "1.2.840.113549.1.1.1"
_MAX_BER_DEPTH = 8


def response_cipher_for(request_cipher: ContentCipher) -> ContentCipher:
    """The cipher of a CertRep answering a request encrypted with ``request_cipher``.

    Mirror the client (it evidently decrypts what it encrypts with), except single DES,
    which is broken: answer DES3, which every DES-era client (micromdm scepclient included)
    decrypts and which RFC 8894 names as the minimum.
    """
    return ContentCipher.DES3 if request_cipher is ContentCipher.DES else request_cipher


def _block_algorithm(cipher: ContentCipher, key: bytes) -> BlockCipherAlgorithm:
    if cipher is ContentCipher.DES:
        return TripleDES(key * 3)  # EDE with K1=K2=K3 is single DES
    if cipher is ContentCipher.DES3:
        return TripleDES(key)
    return algorithms.AES(key)


def _block_bytes(cipher: ContentCipher) -> int:
    return 8 if cipher in (ContentCipher.DES, ContentCipher.DES3) else 16


# --- BER reading of the encrypted content -------------------------------------------------
# asn1crypto refuses an IMPLICIT [0] OCTET STRING in constructed form, which micromdm's
# scepclient sends; these few lines read the TLVs of EncryptedContentInfo themselves.


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int | None]:
    """Identifier octet, content start and content length (None: indefinite) at ``pos``."""
    if pos + 2 > end:
        raise ValueError("truncated TLV")
    identifier, first = data[pos], data[pos + 1]
    if identifier & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not expected here")
    pos += 2
    if first < 0x80:
        length: int | None = first
    elif first == 0x80:
        if not identifier & 0x20:
            raise ValueError("indefinite length on a primitive value")
        length = None
    else:
        count = first & 0x7F
        if count > 4 or pos + count > end:
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if length is not None and pos + length > end:
        raise ValueError("truncated value")
    return identifier, pos, length


def _tlv_end(data: bytes, pos: int, end: int, depth: int = 0) -> int:
    """Position just after the TLV at ``pos`` (walks indefinite-length values)."""
    _, start, length = _header(data, pos, end)
    if length is not None:
        return start + length
    if depth > _MAX_BER_DEPTH:
        raise ValueError("BER nesting too deep")
    pos = start
    while True:
        if pos + 2 > end:
            raise ValueError("missing end-of-contents")
        if data[pos : pos + 2] == b"\x00\x00":
            return pos + 2
        pos = _tlv_end(data, pos, end, depth + 1)


def _octets(data: bytes, pos: int, end: int, depth: int = 0) -> tuple[bytes, int]:
    """Content of the (possibly constructed) OCTET STRING at ``pos``, and the end position."""
    identifier, start, length = _header(data, pos, end)
    if not identifier & 0x20:
        assert length is not None  # _header refuses indefinite primitives
        return data[start : start + length], start + length
    if depth > _MAX_BER_DEPTH:
        raise ValueError("BER nesting too deep")
    limit = end if length is None else start + length
    chunks: list[bytes] = []
    pos = start
    while True:
        if length is None and pos + 2 <= limit and data[pos : pos + 2] == b"\x00\x00":
            return b"".join(chunks), pos + 2
        if length is not None and pos == limit:
            return b"".join(chunks), pos
        if pos >= limit or data[pos] & 0xDF != 0x04:
            raise ValueError("constructed string chunk is not an OCTET STRING")
        chunk, pos = _octets(data, pos, limit, depth + 1)
        chunks.append(chunk)


def _encrypted_content(eci: cms.EncryptedContentInfo) -> bytes:
    data = eci.contents
    pos = _tlv_end(data, 0, len(data))  # contentType
    pos = _tlv_end(data, pos, len(data))  # contentEncryptionAlgorithm
    if pos >= len(data) or data[pos] & 0xDF != 0x80:  # [0], primitive or constructed
        raise ValueError("encryptedContent is absent")
    content, _ = _octets(data, pos, len(data))
    return content


# --- decryption ------------------------------------------------------------------------------


def _load_enveloped(enveloped_der: bytes) -> cms.EnvelopedData:
    info = cms.ContentInfo.load(enveloped_der)
    if info["content_type"].native != "enveloped_data":
        raise ValueError("pkcsPKIEnvelope is not EnvelopedData")
    return info["content"]


def _cipher_and_iv(eci: cms.EncryptedContentInfo) -> tuple[ContentCipher, bytes]:
    algorithm = eci["content_encryption_algorithm"]
    oid = algorithm["algorithm"].dotted
    cipher = _CIPHER_BY_OID.get(oid)
    if cipher is None:
        raise BadAlg(f"unsupported content cipher {oid}")
    iv = algorithm["parameters"].native
    if not isinstance(iv, bytes) or len(iv) != _block_bytes(cipher):
        raise BadRequest("content cipher IV is missing or has the wrong size")
    return cipher, iv


def content_cipher(enveloped_der: bytes) -> ContentCipher:
    """The content cipher of an EnvelopedData (ContentInfo DER), without decrypting it."""
    try:
        return _cipher_and_iv(_load_enveloped(enveloped_der)["encrypted_content_info"])[0]
    except ScepError:
        raise
    except DECODE_ERRORS as exc:
        raise BadRequest(f"malformed EnvelopedData: {exc}") from exc


def _recipient_matches(rid: cms.RecipientIdentifier, cert: asn1_x509.Certificate) -> bool:
    if rid.name == "issuer_and_serial_number":
        chosen = rid.chosen
        return (
            chosen["serial_number"].native == cert.serial_number and chosen["issuer"] == cert.issuer
        )
    key_id = rid.chosen.native
    return key_id in (cert.key_identifier, cert.public_key.sha1)


def decrypt(enveloped_der: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """Decrypt a ContentInfo(EnvelopedData) addressed to ``cert`` with its private ``key``.

    Raises BadCertId when no recipient is ``cert`` (the client encrypted for another CA),
    BadAlg for unsupported algorithms, BadMessageCheck when decryption or padding fails and
    BadRequest when the structure is malformed.
    """
    try:
        enveloped = _load_enveloped(enveloped_der)
        eci = enveloped["encrypted_content_info"]
        cipher, iv = _cipher_and_iv(eci)
        ciphertext = _encrypted_content(eci)
        ours = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
        recipients = [
            (
                info.chosen["key_encryption_algorithm"]["algorithm"].dotted,
                info.chosen["encrypted_key"].native,
            )
            for info in enveloped["recipient_infos"]
            if info.name == "ktri" and _recipient_matches(info.chosen["rid"], ours)
        ]
    except ScepError:
        raise
    except DECODE_ERRORS as exc:
        raise BadRequest(f"malformed EnvelopedData: {exc}") from exc
    if not recipients:
        raise BadCertId("the envelope is not encrypted for this CA certificate")
    key_transport, wrapped_key = recipients[0]
    if key_transport != _RSA_PKCS1V15:
        raise BadAlg("unsupported key transport (only RSA PKCS#1 v1.5)")
    return _decrypt_content(cipher, iv, ciphertext, key, wrapped_key)


def _decrypt_content(
    cipher: ContentCipher, iv: bytes, ciphertext: bytes, key: rsa.RSAPrivateKey, wrapped: bytes
) -> bytes:
    block = _block_bytes(cipher)
    try:
        # OpenSSL's implicit rejection may hand back random bytes instead of an error:
        # the key length and padding checks below catch that case.
        content_key = key.decrypt(wrapped, padding.PKCS1v15())
    except DECODE_ERRORS as exc:
        raise BadMessageCheck("content key decryption failed") from exc
    if len(content_key) != _KEY_BYTES[cipher]:
        raise BadMessageCheck("content key has the wrong size")
    if not ciphertext or len(ciphertext) % block:
        raise BadMessageCheck("ciphertext is not a whole number of blocks")
    decryptor = Cipher(_block_algorithm(cipher, content_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= block or padded[-pad:] != bytes([pad]) * pad:
        raise BadMessageCheck("bad content padding")
    return padded[:-pad]


# --- encryption ------------------------------------------------------------------------------


def encrypt_for(
    recipient_cert: x509.Certificate,
    plaintext: bytes,
    cipher: ContentCipher | str = ContentCipher.AES256,
) -> bytes:
    """ContentInfo(EnvelopedData) DER of ``plaintext`` for ``recipient_cert``'s RSA key."""
    cipher = ContentCipher(cipher)
    public_key = recipient_cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise BadAlg("the recipient certificate has no RSA key for key transport")
    content_key = os.urandom(_KEY_BYTES[cipher])
    block = _block_bytes(cipher)
    iv = os.urandom(block)
    pad = block - len(plaintext) % block
    encryptor = Cipher(_block_algorithm(cipher, content_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
    recipient = asn1_x509.Certificate.load(recipient_cert.public_bytes(Encoding.DER))
    key_trans = cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {"issuer": recipient.issuer, "serial_number": recipient.serial_number}
                ),
            ),
            "key_encryption_algorithm": {"algorithm": _RSA_PKCS1V15},
            "encrypted_key": public_key.encrypt(content_key, padding.PKCS1v15()),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=key_trans)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": _CIPHER_OIDS[cipher],
                    "parameters": iv,
                },
                "encrypted_content": ciphertext,
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()
