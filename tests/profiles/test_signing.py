"""Profile signatures must verify with OpenSSL (``openssl cms -verify``) and keep the bytes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms

from profiles.mobileconfig import MdmSettings, ScepSettings, build_enrollment_profile, serialize
from profiles.signing import sign_profile
from tests.base.apple.pki import Identity, make_ca, make_leaf

PROFILE = serialize(build_enrollment_profile(
    organization="Acme", identifier="com.example.acme.enroll",
    profile_uuid="6f1c1a1e-2b7d-4c1e-9a55-0d6c1f3b2a10",
    scep=ScepSettings(url="https://mdm.example.com/scep", challenge="c", subject=[("CN", "d")]),
    mdm=MdmSettings(server_url="https://mdm.example.com/mdm", topic="com.apple.mgmt.x"),
))


@pytest.fixture(scope="module")
def root() -> Identity:
    return make_ca("Profile signing root")


@pytest.fixture
def openssl_verify(openssl):
    """`openssl cms -verify` of `signed` with `ca` as the only trust anchor."""

    def verify(signed: bytes, ca: Identity, tmp_path: Path) -> subprocess.CompletedProcess:
        (tmp_path / "signed.der").write_bytes(signed)
        return openssl("cms", "-verify", "-inform", "DER", "-in", tmp_path / "signed.der",
                       "-CAfile", ca.write_pem(tmp_path / "ca.pem"), "-out", tmp_path / "out",
                       text=True)

    return verify


@pytest.mark.parametrize("key_kind", ["rsa", "ec"])
def test_openssl_verifies_and_returns_the_exact_profile(
        openssl_verify, root: Identity, tmp_path: Path, key_kind: str) -> None:
    signer = make_leaf(root, "profiles.example.com", key_kind=key_kind)
    result = openssl_verify(sign_profile(PROFILE, signer.cert, signer.key), root, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    assert (tmp_path / "out").read_bytes() == PROFILE


def test_intermediate_chain_is_embedded(openssl_verify, root: Identity, tmp_path: Path) -> None:
    intermediate = make_ca("Profile signing intermediate", issuer=root)
    signer = make_leaf(intermediate, "profiles.example.com")
    without_chain = openssl_verify(sign_profile(PROFILE, signer.cert, signer.key), root, tmp_path)
    assert without_chain.returncode != 0
    with_chain = openssl_verify(
        sign_profile(PROFILE, signer.cert, signer.key, chain=[intermediate.cert]), root, tmp_path)
    assert with_chain.returncode == 0, with_chain.stderr


def test_untrusted_or_tampered_signature_fails(openssl_verify, root: Identity,
                                               tmp_path: Path) -> None:
    signer = make_leaf(root, "profiles.example.com")
    signed = sign_profile(PROFILE, signer.cert, signer.key)
    assert openssl_verify(signed, make_ca("other root"), tmp_path).returncode != 0
    tampered = signed.replace(b"com.apple.mgmt.x", b"com.apple.mgmt.y")
    assert tampered != signed
    assert openssl_verify(tampered, root, tmp_path).returncode != 0


def test_structure_attached_sha256_binary(root: Identity) -> None:
    crlf = PROFILE.replace(b"\n", b"\r\n")  # Binary: no MIME canonicalisation of line ends
    signer = make_leaf(root, "profiles.example.com")
    info = cms.ContentInfo.load(sign_profile(crlf, signer.cert, signer.key))
    assert info["content_type"].native == "signed_data"
    signed_data = info["content"]
    assert signed_data["encap_content_info"]["content"].native == crlf
    assert signed_data["signer_infos"][0]["digest_algorithm"]["algorithm"].native == "sha256"
    assert len(signed_data["certificates"]) == 1
