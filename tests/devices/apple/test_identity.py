"""Mdm-Signature verification, forwarded client certificates and CA chain checks."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path
from urllib.parse import quote

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.apple import identity as idn
from tests.base.apple.pki import DAY, NOW, Identity, make_ca, make_leaf

BODY = b"<?xml version='1.0'?><plist><dict><key>MessageType</key></dict></plist>"


@pytest.fixture(scope="module")
def ca() -> Identity:
    return make_ca("MDM device CA")


@pytest.fixture(scope="module")
def device(ca: Identity) -> Identity:
    return make_leaf(ca, "device-1")


def mdm_signature(signer: Identity, body: bytes = BODY, *options: pkcs7.PKCS7Options) -> str:
    """What a device puts in the Mdm-Signature header: base64 of a detached CMS SignedData."""
    der = (pkcs7.PKCS7SignatureBuilder().set_data(body)
           .add_signer(signer.cert, signer.key, hashes.SHA256())
           .sign(serialization.Encoding.DER,
                 [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, *options]))
    return base64.b64encode(der).decode()


def openssl_signature(openssl, signer: Identity, tmp_path: Path, *args: str) -> str:
    """A detached signature made by OpenSSL (SHA-1 like older devices, or other options)."""
    key = tmp_path / "key.pem"
    key.write_bytes(signer.key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    body = tmp_path / "body"
    body.write_bytes(BODY)
    der = openssl("cms", "-sign", "-binary", "-outform", "DER", "-in", body,
                  "-signer", signer.write_pem(tmp_path / "cert.pem"), "-inkey", key, *args,
                  check=True).stdout
    return base64.b64encode(der).decode()


# --- Mdm-Signature --------------------------------------------------------------------------

def test_signature_with_signed_attributes(ca: Identity, device: Identity) -> None:
    cert = idn.verify_mdm_signature(mdm_signature(device), BODY)
    assert cert == device.cert
    idn.verify_chain(cert, [ca.cert], NOW)


def test_signature_without_signed_attributes(device: Identity) -> None:
    header = mdm_signature(device, BODY, pkcs7.PKCS7Options.NoAttributes)
    signer_info = cms.ContentInfo.load(base64.b64decode(header))["content"]["signer_infos"][0]
    assert not signer_info["signed_attrs"]
    assert idn.verify_mdm_signature(header, BODY) == device.cert


def test_ec_signer(ca: Identity) -> None:
    ec_device = make_leaf(ca, "ec-device", key_kind="ec")
    assert idn.verify_mdm_signature(mdm_signature(ec_device), BODY) == ec_device.cert


@pytest.mark.parametrize("args", [
    ("-md", "sha1"),
    ("-md", "sha1", "-noattr"),
    ("-md", "sha256", "-keyid"),  # signer named by subject key identifier
    ("-md", "sha512", "-noattr", "-keyid"),
])
def test_openssl_signatures(openssl, device: Identity, tmp_path: Path,
                            args: tuple[str, ...]) -> None:
    header = openssl_signature(openssl, device, tmp_path, *args)
    assert idn.verify_mdm_signature(header, BODY) == device.cert
    with pytest.raises(idn.BadSignature):
        idn.verify_mdm_signature(header, BODY + b" ")


@pytest.mark.parametrize("options", [(), (pkcs7.PKCS7Options.NoAttributes,)])
def test_tampered_body(device: Identity, options: tuple) -> None:
    header = mdm_signature(device, BODY, *options)
    with pytest.raises(idn.BadSignature):
        idn.verify_mdm_signature(header, BODY.replace(b"MessageType", b"MessageTypf"))


def test_tampered_signature(device: Identity) -> None:
    der = bytearray(base64.b64decode(mdm_signature(device)))
    der[-5] ^= 0x01  # inside the signature value, which ends the structure
    with pytest.raises(idn.BadSignature):
        idn.verify_mdm_signature(base64.b64encode(der).decode(), BODY)


def test_embedded_cert_swapped_for_another_key(ca: Identity, device: Identity) -> None:
    """An attacker re-labels a signature with someone else's certificate: it must not verify."""
    other = make_leaf(ca, "device-2")
    info = cms.ContentInfo.load(base64.b64decode(mdm_signature(device)))
    signed_data = info["content"]
    signed_data["certificates"] = [cms.CertificateChoices(
        name="certificate", value=cms.Certificate.load(
            other.cert.public_bytes(serialization.Encoding.DER)))]
    signer = signed_data["signer_infos"][0]
    signer["sid"] = cms.SignerIdentifier(name="issuer_and_serial_number", value={
        "issuer": cms.Certificate.load(other.cert.public_bytes(
            serialization.Encoding.DER)).issuer, "serial_number": other.cert.serial_number})
    header = base64.b64encode(info.dump(force=True)).decode()
    with pytest.raises(idn.BadSignature):
        idn.verify_mdm_signature(header, BODY)


def test_signer_from_another_ca_verifies_but_is_untrusted(ca: Identity) -> None:
    stranger = make_leaf(make_ca("MDM device CA"), "intruder")  # same CA name, other key
    cert = idn.verify_mdm_signature(mdm_signature(stranger), BODY)
    with pytest.raises(idn.UntrustedCertificate) as caught:
        idn.verify_chain(cert, [ca.cert], NOW)
    assert caught.value.reason == "not_issued_by_ca"


@pytest.mark.parametrize("header", [
    "", "   ", "not base64!!", "QUJD", base64.b64encode(b"\x30\x03\x02\x01\x01").decode(),
    base64.b64encode(b"\x30\x80" * 50).decode(),
])
def test_garbage_header(header: str) -> None:
    with pytest.raises(idn.MalformedIdentity) as caught:
        idn.verify_mdm_signature(header, BODY)
    assert caught.value.reason == "malformed"


def test_header_holding_a_certificate_not_cms(device: Identity) -> None:
    header = base64.b64encode(device.cert.public_bytes(serialization.Encoding.DER)).decode()
    with pytest.raises(idn.MalformedIdentity):
        idn.verify_mdm_signature(header, BODY)


def test_signature_without_embedded_certificate(device: Identity) -> None:
    with pytest.raises(idn.MalformedIdentity, match="signer certificate"):
        idn.verify_mdm_signature(mdm_signature(device, BODY, pkcs7.PKCS7Options.NoCerts), BODY)


def test_non_str_inputs(device: Identity) -> None:
    with pytest.raises(idn.MalformedIdentity):
        idn.verify_mdm_signature(None, BODY)  # type: ignore[arg-type]
    with pytest.raises(idn.MalformedIdentity):
        idn.verify_mdm_signature(mdm_signature(device), "text")  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()))
def test_fuzz_header(header: str) -> None:
    with pytest.raises(idn.IdentityError):
        idn.verify_mdm_signature(header, BODY)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_signature(data: st.DataObject) -> None:
    der = bytearray(base64.b64decode(FUZZ_SIGNATURE))
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    # A mutation in an unsigned part (e.g. certificate extensions) may still verify.
    with contextlib.suppress(idn.IdentityError):
        idn.verify_mdm_signature(base64.b64encode(der).decode(), BODY)


FUZZ_SIGNATURE = mdm_signature(make_leaf(make_ca("fuzz CA"), "fuzz-device"))


# --- forwarded client certificate -----------------------------------------------------------

def test_forwarded_nginx_escaped_pem(device: Identity) -> None:
    pem = device.cert.public_bytes(serialization.Encoding.PEM).decode()
    assert idn.load_forwarded_client_cert(quote(pem, safe="")) == device.cert
    assert idn.load_forwarded_client_cert(quote(pem)) == device.cert  # "/" left as is


def test_forwarded_pem_with_spaces_and_bare_der(device: Identity) -> None:
    pem = device.cert.public_bytes(serialization.Encoding.PEM).decode()
    assert idn.load_forwarded_client_cert(pem.replace("\n", " ")) == device.cert
    assert idn.load_forwarded_client_cert(pem.replace("\n", "\t")) == device.cert
    der = device.cert.public_bytes(serialization.Encoding.DER)
    assert idn.load_forwarded_client_cert(base64.b64encode(der).decode()) == device.cert


@pytest.mark.parametrize("value", [
    "", "(null)", "-----BEGIN CERTIFICATE-----%0Agarbage%0A-----END CERTIFICATE-----",
    base64.b64encode(b"not a certificate").decode(), "%ZZ", "-----BEGIN CERTIFICATE-----",
])
def test_forwarded_garbage(value: str) -> None:
    with pytest.raises(idn.MalformedIdentity):
        idn.load_forwarded_client_cert(value)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_fuzz_forwarded(value: str) -> None:
    with pytest.raises(idn.IdentityError):
        idn.load_forwarded_client_cert(value)


# --- chain ----------------------------------------------------------------------------------

def test_expired_and_not_yet_valid() -> None:
    ca = make_ca("long-lived CA", not_before=NOW - 100 * DAY)
    expired = make_leaf(ca, "old", not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    future = make_leaf(ca, "new", not_before=NOW + DAY, not_after=NOW + 10 * DAY)
    for cert in (expired.cert, future.cert):
        with pytest.raises(idn.CertificateExpired) as caught:
            idn.verify_chain(cert, [ca.cert], NOW)
        assert caught.value.reason == "expired"
    idn.verify_chain(expired.cert, [ca.cert], NOW - 5 * DAY)


def test_expired_ca() -> None:
    old_ca = make_ca("old CA", not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    leaf = make_leaf(old_ca, "device", not_before=NOW - 5 * DAY)
    with pytest.raises(idn.CertificateExpired, match="issuing CA"):
        idn.verify_chain(leaf.cert, [old_ca.cert], NOW)


def test_rotated_ca_with_the_same_name(ca: Identity, device: Identity) -> None:
    successor = make_ca("MDM device CA")
    idn.verify_chain(device.cert, [successor.cert, ca.cert], NOW)
    with pytest.raises(idn.UntrustedCertificate):
        idn.verify_chain(device.cert, [successor.cert], NOW)
    with pytest.raises(idn.UntrustedCertificate):
        idn.verify_chain(device.cert, [], NOW)


def test_only_direct_issuance_counts(ca: Identity) -> None:
    intermediate = make_ca("intermediate", issuer=ca)
    leaf = make_leaf(intermediate, "device")
    idn.verify_chain(leaf.cert, [intermediate.cert], NOW)
    with pytest.raises(idn.UntrustedCertificate):
        idn.verify_chain(leaf.cert, [ca.cert], NOW)


def test_naive_now_is_utc(ca: Identity, device: Identity) -> None:
    idn.verify_chain(device.cert, [ca.cert], NOW.replace(tzinfo=None))


def test_signer_certificate_with_a_repeated_extension_is_malformed_not_a_500(
        openssl, device: Identity, tmp_path: Path) -> None:
    """Named by subject key identifier, the signer is found by reading each embedded
    certificate's extensions: a repeated one (DuplicateExtension, not a ValueError) makes the
    signature malformed. The SCEP parser reads SignedData through the same function."""
    from enrollment.scep.errors import UnparseableMessage
    from enrollment.scep.messages import parse_pki_message
    from pki import der, signed_data
    from tests.base.scep.client import with_duplicate_extension

    header = openssl_signature(openssl, device, tmp_path, "-md", "sha256", "-keyid")
    # OpenSSL will not sign with such a certificate: swap it into the signature afterwards
    # (the signature covers the signed attributes, not the embedded certificates).
    doubled = with_duplicate_extension(
        device.cert.public_bytes(serialization.Encoding.DER), device.key)
    content_type, content = der.read_whole(base64.b64decode(header)).children()
    parts = content.children()[0].children()
    parts = [der.tlv(der.CONTEXT | der.CONSTRUCTED, doubled)
             if part.tag == der.CONTEXT | der.CONSTRUCTED else part.raw for part in parts]
    header = base64.b64encode(der.sequence(content_type.raw, der.explicit(
        0, der.sequence(*parts)))).decode()
    signed = signed_data.parse(base64.b64decode(header))
    assert signed.signers[0].key_identifier is not None  # the path under test
    with pytest.raises(idn.MalformedIdentity):
        idn.verify_mdm_signature(header, BODY)
    with pytest.raises(UnparseableMessage):
        parse_pki_message(base64.b64decode(header))
