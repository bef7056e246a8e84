"""CMS SignedData (RFC 5652 section 5): read one, find its signer's certificate, write one.

Used by the two hot paths that receive CMS: SCEP pkiMessages and the ``Mdm-Signature`` of
every Apple check-in. Reading yields plain values and slices of the input (the signed
attributes exactly as the sender encoded them); verifying the signature is the caller's job,
with ``cryptography``. Every reading error is a ``der.DerError`` (a ValueError).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from cryptography import x509

from pki import der
from pki.der import CONSTRUCTED, CONTEXT, INTEGER, OCTET_STRING, SEQUENCE, SET, Node
from pki.malformed import DECODE_ERRORS

SIGNED_DATA = "1.2.840.113549.1.7.2"
DATA = "1.2.840.113549.1.7.1"
CONTENT_TYPE_ATTR = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST_ATTR = "1.2.840.113549.1.9.4"
SIGNING_TIME_ATTR = "1.2.840.113549.1.9.5"

DIGEST_NAMES = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
DIGEST_OIDS = {name: oid for oid, name in DIGEST_NAMES.items()}
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
# Signature algorithm OID -> key family; CMS signers name either the key type or the
# digest-with-key algorithm (RFC 5754), the digest itself is the SignerInfo's.
SIGNATURE_FAMILIES = {
    RSA_ENCRYPTION: "rsa",
    "1.2.840.113549.1.1.5": "rsa",
    "1.2.840.113549.1.1.11": "rsa",
    "1.2.840.113549.1.1.12": "rsa",
    "1.2.840.113549.1.1.13": "rsa",
    "1.2.840.113549.1.1.14": "rsa",
    "1.2.840.10045.2.1": "ecdsa",
    "1.2.840.10045.4.1": "ecdsa",
    "1.2.840.10045.4.3.1": "ecdsa",
    "1.2.840.10045.4.3.2": "ecdsa",
    "1.2.840.10045.4.3.3": "ecdsa",
    "1.2.840.10045.4.3.4": "ecdsa",
}
ECDSA_WITH = {"sha1": "1.2.840.10045.4.1", "sha224": "1.2.840.10045.4.3.1",
              "sha256": "1.2.840.10045.4.3.2", "sha384": "1.2.840.10045.4.3.3",
              "sha512": "1.2.840.10045.4.3.4"}


@dataclass(frozen=True)
class Signer:
    """One SignerInfo, read but not verified."""

    issuer: bytes | None  # the sid's issuer Name (DER) when it is issuerAndSerialNumber
    serial: int | None
    key_identifier: bytes | None  # when the sid is a subjectKeyIdentifier
    digest_algorithm: str  # dotted OID
    signature_algorithm: str  # dotted OID
    signature: bytes
    signed_attrs: bytes | None  # what the signature covers: the attributes as a SET OF
    attrs_node: Node | None = None  # the [0] signedAttrs as received, read on demand

    @property
    def digest_name(self) -> str | None:
        return DIGEST_NAMES.get(self.digest_algorithm)

    @property
    def signature_family(self) -> str | None:
        return SIGNATURE_FAMILIES.get(self.signature_algorithm)

    @cached_property
    def attributes(self) -> dict[str, list[Node]]:
        """Every signed attribute's values by OID (a repeated attribute's values merged)."""
        found: dict[str, list[Node]] = {}
        for kind, values in self._attributes():
            found.setdefault(der.decode_oid(kind), []).extend(values.expect(SET).children())
        return found

    def values(self, oid: str) -> list[Node]:
        """The values of one signed attribute, without reading the others' values."""
        wanted = der.encode_oid(oid)
        return [value for kind, values in self._attributes() if kind.raw == wanted
                for value in values.expect(SET).children()]

    def _attributes(self) -> list[tuple[Node, Node]]:
        try:
            pairs = [attribute.expect(SEQUENCE).children()
                     for attribute in (self.attrs_node.children() if self.attrs_node else [])]
            return [(kind.expect(der.OID), values) for kind, values in pairs]
        except ValueError as exc:  # DerError, or a pair of the wrong length
            raise der.DerError(f"malformed signed attribute: {exc}") from exc


@dataclass(frozen=True)
class SignedData:
    content_type: str
    content: bytes | None  # None: detached (or absent)
    certificates: list[bytes]  # DER of each embedded X.509 certificate
    signers: list[Signer]


def _signer(node: Node) -> Signer:
    items = node.expect(SEQUENCE).children()
    if len(items) < 5:
        raise der.DerError("SignerInfo is too short")
    _version, sid, digest, *rest = items
    issuer = serial = key_identifier = None
    if sid.tag == SEQUENCE:
        name, number = sid.children()
        issuer, serial = name.expect(SEQUENCE).raw, der.decode_integer(number)
    elif sid.tag in (CONTEXT, CONTEXT | CONSTRUCTED):  # [0] IMPLICIT SubjectKeyIdentifier
        key_identifier = der.decode_octets(sid)
    else:
        raise der.DerError("unknown signer identifier")
    signed_attrs = attrs = None
    if rest and rest[0].tag == CONTEXT | CONSTRUCTED:  # [0] IMPLICIT signedAttrs
        attrs = rest.pop(0)
        # The signature covers the DER of the SET OF, i.e. these bytes re-tagged.
        signed_attrs = bytes((SET,)) + attrs.raw[1:]
    if len(rest) < 2:
        raise der.DerError("SignerInfo lacks its signature")
    signature_algorithm, signature = rest[0], rest[1]
    return Signer(issuer, serial, key_identifier, _algorithm_oid(digest),
                  _algorithm_oid(signature_algorithm),
                  der.decode_octets(signature.expect(OCTET_STRING)), signed_attrs, attrs)


def _algorithm_oid(node: Node) -> str:
    parts = node.expect(SEQUENCE).children()
    if not parts:
        raise der.DerError("empty AlgorithmIdentifier")
    return der.decode_oid(parts[0])


def parse(data: bytes) -> SignedData:
    """A ContentInfo holding a SignedData (BER or DER)."""
    try:
        return _parse(data)
    except der.DerError:
        raise
    except (ValueError, IndexError, OverflowError) as exc:  # a structure of the wrong shape
        raise der.DerError(f"malformed SignedData: {exc}") from exc


def _parse(data: bytes) -> SignedData:
    content_info = der.read_whole(data).expect(SEQUENCE).children()
    if len(content_info) != 2 or der.decode_oid(content_info[0]) != SIGNED_DATA:
        raise der.DerError("not a CMS SignedData")
    wrapper = content_info[1].expect(CONTEXT | CONSTRUCTED).children()
    if len(wrapper) != 1:
        raise der.DerError("malformed [0] content")
    items = wrapper[0].expect(SEQUENCE).children()
    if len(items) < 4:
        raise der.DerError("SignedData is too short")
    _version, _digests, encap, *rest = items
    encap_items = encap.expect(SEQUENCE).children()
    if not encap_items:
        raise der.DerError("empty encapContentInfo")
    content_type = der.decode_oid(encap_items[0])
    content = None
    if len(encap_items) > 1:
        explicit = encap_items[1].expect(CONTEXT | CONSTRUCTED).children()
        if len(explicit) != 1:
            raise der.DerError("malformed eContent")
        content = der.decode_octets(explicit[0])
    certificates = []
    while rest and rest[0].tag & ~CONSTRUCTED in (CONTEXT, CONTEXT | 1):
        optional = rest.pop(0)
        if optional.tag & 0x1F == 0:  # [0] certificates; [1] CRLs are ignored
            certificates = [choice.raw for choice in optional.children()
                            if choice.tag == SEQUENCE]
    if len(rest) != 1:
        raise der.DerError("SignedData has no signerInfos")
    signers = [_signer(node) for node in rest[0].expect(SET).children()]
    return SignedData(content_type, content, certificates, signers)


@lru_cache(maxsize=8192)  # a device signs every request with the same certificate
def _serial_and_issuer(certificate: bytes) -> tuple[int, bytes]:
    tbs = der.read_whole(certificate).expect(SEQUENCE).children()[0].expect(SEQUENCE).children()
    if tbs and tbs[0].tag == CONTEXT | CONSTRUCTED:  # [0] EXPLICIT version
        tbs = tbs[1:]
    if len(tbs) < 3:
        raise der.DerError("TBSCertificate is too short")
    return der.decode_integer(tbs[0].expect(INTEGER)), tbs[2].expect(SEQUENCE).raw


def _same_name(a: bytes, b: bytes) -> bool:
    """Byte equality, else X.500 comparison (string preparation: slow, rarely needed)."""
    if a == b:
        return True
    from asn1crypto.x509 import Name

    try:
        return Name.load(a) == Name.load(b)
    except (ValueError, TypeError):
        return False


def signer_certificate(signed: SignedData, signer: Signer) -> bytes | None:
    """DER of the embedded certificate that ``signer`` names, if any."""
    try:
        return _signer_certificate(signed, signer)
    except der.DerError:
        raise
    except DECODE_ERRORS as exc:
        raise der.DerError(f"malformed certificate: {exc}") from exc


def _signer_certificate(signed: SignedData, signer: Signer) -> bytes | None:
    for certificate in signed.certificates:
        if certificate_matches(certificate, issuer=signer.issuer, serial=signer.serial,
                               key_identifier=signer.key_identifier):
            return certificate
    return None


def certificate_matches(certificate: bytes, *, issuer: bytes | None = None,
                        serial: int | None = None, key_identifier: bytes | None = None) -> bool:
    """Whether a CMS identifier (issuer and serial number, or subject key identifier) names
    this certificate (DER)."""
    if serial is not None:
        own_serial, own_issuer = _serial_and_issuer(certificate)
        return own_serial == serial and _same_name(own_issuer, issuer or b"")
    if key_identifier is None:
        return False
    return key_identifier in _key_identifiers(certificate)


@lru_cache(maxsize=1024)
def _key_identifiers(certificate: bytes) -> tuple[bytes, ...]:
    """The certificate's subjectKeyIdentifier extension and the SHA-1 of its public key
    (RFC 5280 section 4.2.1.2, method 1), which senders use when the extension is absent."""
    loaded = x509.load_der_x509_certificate(certificate)
    found = [x509.SubjectKeyIdentifier.from_public_key(loaded.public_key()).digest]
    with contextlib.suppress(x509.ExtensionNotFound):
        found.append(loaded.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value.digest)
    return tuple(found)


def only(values: list[Node] | None) -> Node | None:
    """The single value of a single-valued attribute, None when absent."""
    if not values:
        return None
    if len(values) != 1:
        raise der.DerError("a single-valued attribute has several values")
    return values[0]


# --- writing -------------------------------------------------------------------------------


def attribute(oid: str, *values: bytes) -> bytes:
    return der.sequence(der.encode_oid(oid), der.set_of(values))


def issuer_and_serial(certificate: bytes) -> bytes:
    serial, issuer = _serial_and_issuer(certificate)
    return der.sequence(issuer, der.encode_integer(serial))


def build(*, content: bytes | None, certificates: Sequence[bytes], signer_certificate: bytes,
          digest_name: str, signature_algorithm: str, signed_attrs: bytes | None,
          signature: bytes, content_type: str = DATA) -> bytes:
    """ContentInfo(SignedData) DER with one signer (``signed_attrs`` is the SET OF DER the
    signature was made over, as :func:`signed_attributes` returns it), or none when
    ``signature`` is empty (a certs-only "degenerate" SignedData)."""
    digest = der.algorithm(DIGEST_OIDS[digest_name])
    encap = [der.encode_oid(content_type)]
    if content is not None:
        encap.append(der.explicit(0, der.encode_octets(content)))
    signer_infos = b""
    if signature:
        signer_infos = der.sequence(
            der.encode_integer(1), issuer_and_serial(signer_certificate), digest,
            bytes((CONTEXT | CONSTRUCTED,)) + signed_attrs[1:] if signed_attrs else b"",
            der.algorithm(signature_algorithm,
                          None if signature_algorithm in ECDSA_WITH.values() else b"\x05\x00"),
            der.encode_octets(signature))
    signed_data = der.sequence(
        der.encode_integer(1),
        der.tlv(SET, digest if signature else b""),
        der.sequence(*encap),
        der.tlv(CONTEXT | CONSTRUCTED, *certificates) if certificates else b"",
        der.tlv(SET, signer_infos),
    )
    return der.sequence(der.encode_oid(SIGNED_DATA), der.explicit(0, signed_data))


def signed_attributes(attributes: Sequence[bytes]) -> bytes:
    """The SET OF Attribute DER a signature covers (sorted, as DER requires)."""
    return der.set_of(attributes)


def certificates_only(certificates: Sequence[bytes]) -> bytes:
    """A certs-only ContentInfo(SignedData), "degenerate PKCS#7", in the order given.

    ``certificates`` is a SET OF, which strict DER would sort; like OpenSSL and micromdm we
    keep the order instead, because SCEP clients take the first certificate of a CertRep as
    theirs and the first of GetCACert as the CA (cryptography reads it with a warning)."""
    return build(content=None, certificates=certificates, signer_certificate=b"",
                 digest_name="sha256", signature_algorithm="", signed_attrs=None, signature=b"")

