"""Fixtures of the Apple enrollment tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


@pytest.fixture
def openssl_verify(openssl):
    """`openssl_verify(signed, ca_der, tmp_path)`: ``openssl cms -verify`` of a served profile
    against the tenant CA as the only trust anchor; returns the signed content (a failed
    verification fails the test)."""

    def verify(signed: bytes, ca_der: bytes, tmp_path: Path) -> bytes:
        (tmp_path / "signed.der").write_bytes(signed)
        (tmp_path / "ca.pem").write_bytes(
            x509.load_der_x509_certificate(ca_der).public_bytes(Encoding.PEM))
        result = openssl("cms", "-verify", "-binary", "-inform", "DER",
                         "-in", tmp_path / "signed.der", "-CAfile", tmp_path / "ca.pem",
                         "-out", tmp_path / "content.plist", check=False)
        assert result.returncode == 0, result.stderr.decode()
        assert b"Verification successful" in result.stderr
        return (tmp_path / "content.plist").read_bytes()

    return verify
