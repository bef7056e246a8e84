"""CMS EnvelopedData for SCEP's pkcsPKIEnvelope (RFC 8894 section 3.2.2; RFC 5652 section 6).

Decrypts what a client encrypted for the RA or CA certificate (RSA PKCS#1 v1.5 key transport;
DES, DES-EDE3, AES-128/192/256 in CBC mode) and builds the envelope of a CertRep.
cryptography's own PKCS#7 decryption is not used: it refuses DES, DES3 and AES-192, which
SCEP clients still send. Errors are ``ScepError`` subclasses only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding

from enrollment.scep.errors import BadAlg, BadCertId, BadMessageCheck, BadRequest, ScepError
from pki import der, signed_data
from pki.malformed import DECODE_ERRORS


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


# --- reading ---------------------------------------------------------------------------------
# Read with pki.der: it takes the constructed, indefinite-length [0] encrypted
# content micromdm's scepclient sends, which asn1crypto refuses.

_ENVELOPED_DATA = "1.2.840.113549.1.7.3"


@dataclass(frozen=True)
class _Envelope:
    recipients: list[der.Node]  # KeyTransRecipientInfo SEQUENCEs (other kinds left out)
    cipher: ContentCipher
    iv: bytes
    ciphertext: bytes


def _read_envelope(enveloped_der: bytes) -> _Envelope:
    content_info = der.read_whole(enveloped_der).expect(der.SEQUENCE).children()
    if len(content_info) != 2 or der.decode_oid(content_info[0]) != _ENVELOPED_DATA:
        raise ValueError("pkcsPKIEnvelope is not EnvelopedData")
    [enveloped] = content_info[1].expect(der.CONTEXT | der.CONSTRUCTED).children()
    items = enveloped.expect(der.SEQUENCE).children()[1:]  # after the version
    if items and items[0].tag == der.CONTEXT | der.CONSTRUCTED:  # [0] originatorInfo
        items = items[1:]
    if len(items) < 2:
        raise ValueError("EnvelopedData is too short")
    recipients = [info for info in items[0].expect(der.SET).children()
                  if info.tag == der.SEQUENCE]  # ktri; kari, kekri... are tagged
    eci = items[1].expect(der.SEQUENCE).children()
    if len(eci) < 3 or eci[2].tag & ~der.CONSTRUCTED != der.CONTEXT:
        raise BadRequest("encryptedContent is absent")
    algorithm = eci[1].expect(der.SEQUENCE).children()
    oid = der.decode_oid(algorithm[0])
    cipher = _CIPHER_BY_OID.get(oid)
    if cipher is None:
        raise BadAlg(f"unsupported content cipher {oid}")
    iv = der.decode_octets(algorithm[1]) if len(algorithm) > 1 and \
        algorithm[1].tag & ~der.CONSTRUCTED == der.OCTET_STRING else None
    if iv is None or len(iv) != _block_bytes(cipher):
        raise BadRequest("content cipher IV is missing or has the wrong size")
    return _Envelope(recipients, cipher, iv, der.decode_octets(eci[2]))


def _read(enveloped_der: bytes) -> _Envelope:
    try:
        return _read_envelope(enveloped_der)
    except ScepError:
        raise
    except DECODE_ERRORS as exc:
        raise BadRequest(f"malformed EnvelopedData: {exc}") from exc


def content_cipher(enveloped_der: bytes) -> ContentCipher:
    """The content cipher of an EnvelopedData (ContentInfo DER), without decrypting it."""
    return _read(enveloped_der).cipher


def _wrapped_key_for(recipient: der.Node, cert_der: bytes) -> tuple[str, bytes] | None:
    """(key transport OID, encrypted key) when this KeyTransRecipientInfo is ``cert``."""
    _version, rid, algorithm, encrypted_key = recipient.children()[:4]
    if rid.tag == der.SEQUENCE:
        issuer, serial = rid.children()
        ours = signed_data.certificate_matches(cert_der, issuer=issuer.raw,
                                               serial=der.decode_integer(serial))
    else:  # [0] subjectKeyIdentifier
        ours = signed_data.certificate_matches(cert_der, key_identifier=der.decode_octets(rid))
    if not ours:
        return None
    return (der.decode_oid(algorithm.expect(der.SEQUENCE).children()[0]),
            der.decode_octets(encrypted_key.expect(der.OCTET_STRING)))


Recipient = tuple[rsa.RSAPrivateKey, x509.Certificate]


def decrypt(enveloped_der: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate, *,
            also: Sequence[Recipient] = ()) -> bytes:
    """Decrypt a ContentInfo(EnvelopedData) addressed to ``cert`` with its private ``key``, or
    to any (key, certificate) of ``also`` (an RA's CA: clients that got both from GetCACert
    may encrypt to either, or to both); ``cert`` is preferred when several are recipients.

    Raises BadCertId when none of them is a recipient (the client encrypted for another CA),
    BadAlg for unsupported algorithms, BadMessageCheck when decryption or padding fails and
    BadRequest when the structure is malformed.
    """
    envelope = _read(enveloped_der)
    for candidate_key, candidate in ((key, cert), *also):
        candidate_der = candidate.public_bytes(Encoding.DER)
        try:
            found = [found for info in envelope.recipients
                     if (found := _wrapped_key_for(info, candidate_der)) is not None]
        except DECODE_ERRORS as exc:
            raise BadRequest(f"malformed RecipientInfo: {exc}") from exc
        if found:
            key_transport, wrapped_key = found[0]
            if key_transport != _RSA_PKCS1V15:
                raise BadAlg("unsupported key transport (only RSA PKCS#1 v1.5)")
            return _decrypt_content(envelope.cipher, envelope.iv, envelope.ciphertext,
                                    candidate_key, wrapped_key)
    raise BadCertId("the envelope is not encrypted for this CA or RA certificate")


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
    recipient = der.sequence(
        der.encode_integer(0),
        signed_data.issuer_and_serial(recipient_cert.public_bytes(Encoding.DER)),
        der.algorithm(_RSA_PKCS1V15),
        der.encode_octets(public_key.encrypt(content_key, padding.PKCS1v15())),
    )
    encrypted_content_info = der.sequence(
        der.encode_oid(signed_data.DATA),
        der.algorithm(_CIPHER_OIDS[cipher], der.encode_octets(iv)),
        der.tlv(der.CONTEXT, ciphertext),  # [0] IMPLICIT OCTET STRING
    )
    enveloped = der.sequence(der.encode_integer(0), der.tlv(der.SET, recipient),
                             encrypted_content_info)
    return der.sequence(der.encode_oid(_ENVELOPED_DATA), der.explicit(0, enveloped))
