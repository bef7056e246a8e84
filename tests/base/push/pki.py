"""Test PKI for the push tests: a CA, the loopback server's certificate, an MDM push
certificate (UID com.apple.mgmt.External.<uuid>), an APNs .p8 key, an FCM service account;
an MDM vendor certificate under stand-ins for Apple Root CA and the WWDR intermediate, and
"Apple" issuing a push certificate for a CSR."""

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

    def issue_for_csr(self, csr_pem: str | bytes, *, topic: str = TOPIC, days: int = 365,
                      not_before: dt.datetime | None = None) -> bytes:
        """What Apple's Push Certificates Portal gives back for a request: the certificate
        alone (PEM), for the CSR's key."""
        ca_key = serialization.load_pem_private_key((self.folder / "ca.key").read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        csr = x509.load_pem_x509_csr(csr_pem.encode() if isinstance(csr_pem, str) else csr_pem)
        name = x509.Name([x509.NameAttribute(NameOID.USER_ID, topic),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"APSP:{uuid.uuid4()}")])
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject)
                .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
                .sign(ca_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)

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


@dataclass(frozen=True)
class VendorPki:
    """An MDM vendor certificate (RSA) issued by a stand-in WWDR intermediate under a stand-in
    Apple Root CA."""

    root_pem: bytes
    wwdr_pem: bytes
    certificate_pem: bytes
    key_pem: bytes
    key: rsa.RSAPrivateKey

    @property
    def chain_pem(self) -> bytes:
        """Apple's part of the chain: WWDR, then the root."""
        return self.wwdr_pem + self.root_pem

    @property
    def certificate_der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.certificate_pem).public_bytes(
            serialization.Encoding.DER)

    @property
    def chain_der(self) -> bytes:
        """`cat AppleWWDRCAG3.cer AppleIncRootCertificate.cer`"""
        return b"".join(cert.public_bytes(serialization.Encoding.DER)
                        for cert in x509.load_pem_x509_certificates(self.chain_pem))

    def p12(self, password: bytes = b"secret", *, with_chain: bool = True) -> bytes:
        chain = x509.load_pem_x509_certificates(self.chain_pem) if with_chain else None
        return pkcs12.serialize_key_and_certificates(
            b"vendor", self.key, x509.load_pem_x509_certificate(self.certificate_pem), chain,
            serialization.BestAvailableEncryption(password))


@cache
def make_vendor_pki(days: int = 365, start_days_ago: int = 1) -> VendorPki:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _cert(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Apple Inc."),
                            x509.NameAttribute(NameOID.COMMON_NAME, "Test Apple Root CA")]),
                 root_key, None, None, ca=True, days=3650)
    wwdr_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wwdr = _cert(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Apple Inc."),
                            x509.NameAttribute(NameOID.COMMON_NAME,
                                               "Test Apple Worldwide Developer Relations CA")]),
                 wwdr_key, root, root_key, ca=True, days=3650)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    vendor = _cert(x509.Name([x509.NameAttribute(NameOID.USER_ID, "TEAM123456"),
                              x509.NameAttribute(NameOID.COMMON_NAME,
                                                 "MDM Vendor: Example Corp")]),
                   key, wwdr, wwdr_key, days=days,
                   not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=start_days_ago))
    pem = serialization.Encoding.PEM
    return VendorPki(root_pem=root.public_bytes(pem), wwdr_pem=wwdr.public_bytes(pem),
                     certificate_pem=vendor.public_bytes(pem), key_pem=_pem_key(key), key=key)
