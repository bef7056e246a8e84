"""Test PKI for the push tests: a CA, the loopback server's certificate, an MDM push
certificate (UID com.apple.mgmt.External.<uuid>), an APNs .p8 key, an FCM service account."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

TOPIC = "com.apple.mgmt.External.2b5b1f9a-7f0e-4d1c-9a61-3d8f4f0b6c11"


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: x509.Name, key, issuer_cert, issuer_key, *, ca=False, san=None,
          days=365, not_before=None) -> x509.Certificate:
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


@dataclass(frozen=True)
class TestPki:
    folder: Path
    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    push_cert_pem: bytes
    push_key_pem: bytes
    push_p12: bytes          # password "secret"
    app_key_pem: bytes       # APNs .p8 (P-256)
    app_public_key: ec.EllipticCurvePublicKey
    service_account_key_pem: bytes

    def push_certificate(self, *, topic: str = TOPIC, days: int = 365,
                         uid: bool = True) -> tuple[bytes, bytes]:
        """Another push certificate (PEM cert, PEM key) from the same CA."""
        ca_key = serialization.load_pem_private_key((self.folder / "ca.key").read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        names = [x509.NameAttribute(NameOID.COMMON_NAME, f"APSP:{uuid.uuid4()}")]
        if uid:
            names.insert(0, x509.NameAttribute(NameOID.USER_ID, topic))
        cert = _cert(x509.Name(names), key, ca_cert, ca_key, days=days,
                     not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def service_account(self, token_uri: str, project_id: str = "demo-project") -> dict:
        return {"type": "service_account", "project_id": project_id,
                "private_key_id": "k1", "private_key": self.service_account_key_pem.decode(),
                "client_email": f"push@{project_id}.iam.gserviceaccount.com",
                "client_id": "1234567890", "token_uri": token_uri}


@cache
def make_pki(folder: str) -> TestPki:
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = _cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test APNs CA")]),
                    ca_key, None, None, ca=True, days=3650)
    (root / "ca.key").write_bytes(_pem_key(ca_key))
    ca_file = root / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = _cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
                        server_key, ca_cert, ca_key,
                        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                             x509.DNSName("localhost")])
    (root / "server.pem").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    (root / "server.key").write_bytes(_pem_key(server_key))
    push_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    push_cert = _cert(x509.Name([x509.NameAttribute(NameOID.USER_ID, TOPIC),
                                 x509.NameAttribute(NameOID.COMMON_NAME,
                                                    f"APSP:{TOPIC.rsplit('.', 1)[1]}")]),
                      push_key, ca_cert, ca_key)
    p12 = pkcs12.serialize_key_and_certificates(
        b"push", push_key, push_cert, None,
        serialization.BestAvailableEncryption(b"secret"))
    app_key = ec.generate_private_key(ec.SECP256R1())
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return TestPki(
        folder=root, ca_file=ca_file, server_cert_file=root / "server.pem",
        server_key_file=root / "server.key",
        push_cert_pem=push_cert.public_bytes(serialization.Encoding.PEM),
        push_key_pem=_pem_key(push_key), push_p12=p12, app_key_pem=_pem_key(app_key),
        app_public_key=app_key.public_key(),
        service_account_key_pem=_pem_key(sa_key))


def service_account_json(pki: TestPki, token_uri: str) -> bytes:
    return json.dumps(pki.service_account(token_uri)).encode()
