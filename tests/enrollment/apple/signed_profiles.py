"""Helpers for the Django-side profile tests: verify a served profile with OpenSSL."""

from __future__ import annotations

import plistlib
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def openssl_verify(signed: bytes, ca_der: bytes, tmp_path: Path) -> bytes:
    """``openssl cms -verify`` against the tenant CA as the only trust anchor; returns the
    signed content (raises on failure)."""
    (tmp_path / "signed.der").write_bytes(signed)
    (tmp_path / "ca.pem").write_bytes(
        x509.load_der_x509_certificate(ca_der).public_bytes(Encoding.PEM))
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER",
         "-in", str(tmp_path / "signed.der"), "-CAfile", str(tmp_path / "ca.pem"),
         "-out", str(tmp_path / "content.plist")],
        capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Verification successful" in result.stderr
    return (tmp_path / "content.plist").read_bytes()


def payload(profile: dict, payload_type: str) -> dict:
    (found,) = [p for p in profile["PayloadContent"] if p["PayloadType"] == payload_type]
    return found


def loads(data: bytes) -> dict:
    return plistlib.loads(data)
