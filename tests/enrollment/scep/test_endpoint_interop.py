"""Interop with a real SCEP client: Debian's micromdm `scepclient` enrolls against our server
(the live Django server on loopback, PostgreSQL behind it)."""

from __future__ import annotations

import datetime as dt
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone

from enrollment.models import Challenge, IssuedCertificate
from enrollment.services.challenges import do_create_challenge
from tests.enrollment.scep.helpers import tenant_ca_cert

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scep_url(live_server, tenant):
    return f"{live_server.url}/t/{tenant.slug}/scep"


def _openssl_verify(openssl, cert_path, ca_pem_path) -> subprocess.CompletedProcess:
    return openssl("verify", "-CAfile", ca_pem_path, cert_path, text=True, check=False)


def test_scepclient_enrolls_and_openssl_verifies(scepclient, openssl, scep_url, tenant, admin,
                                                 tmp_path):
    from cryptography.hazmat.primitives.serialization import Encoding

    minted = do_create_challenge(tenant, actor=admin)
    result = scepclient(scep_url, tmp_path / "device", minted.raw, cn="scepclient-device")
    assert result.returncode == 0, result.stdout + result.stderr
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(tenant_ca_cert(tenant).public_bytes(Encoding.PEM))
    verified = _openssl_verify(openssl, tmp_path / "device" / "cert.pem", ca_pem)
    assert verified.returncode == 0 and ": OK" in verified.stdout, verified.stderr
    issued = IssuedCertificate.objects.get(tenant=tenant)
    assert issued.common_name == "scepclient-device"


@pytest.mark.parametrize("case", ["wrong", "reused", "expired"])
def test_scepclient_bad_challenge_prints_bad_request(scepclient, scep_url, tenant, admin, tmp_path,
                                                     case):
    minted = do_create_challenge(tenant, actor=admin)
    challenge = minted.raw
    if case == "wrong":
        challenge = "wrong-challenge"
    elif case == "reused":
        first = scepclient(scep_url, tmp_path / "first", challenge)
        assert first.returncode == 0, first.stdout + first.stderr
    else:
        Challenge.objects.filter(pk=minted.challenge.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1))
    result = scepclient(scep_url, tmp_path / "device", challenge)
    assert result.returncode != 0
    assert "badRequest" in result.stdout + result.stderr
    assert not (tmp_path / "device" / "cert.pem").exists()


def test_concurrent_enrollments_never_collide_or_lose_certificates(scepclient, scep_url, tenant,
                                                                     admin, tmp_path):
    count = 12
    challenges = [do_create_challenge(tenant, actor=admin).raw for _ in range(count)]

    def enroll(index: int) -> int:
        return scepclient(scep_url, tmp_path / f"d{index}", challenges[index],
                              cn=f"device-{index}").returncode

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(enroll, range(count)))
    assert codes == [0] * count
    issued = IssuedCertificate.objects.filter(tenant=tenant)
    assert issued.count() == count
    assert len(set(issued.values_list("serial_hex", flat=True))) == count
    for index in range(count):
        assert (tmp_path / f"d{index}" / "cert.pem").exists()


def test_scepclient_enrolls_under_an_imported_intermediate_ca(scepclient, openssl, scep_url,
                                                              tenant, admin, tmp_path):
    """GetCACert answers the CA and its chain (application/x-x509-ca-ra-cert): scepclient
    picks the CA, enrolls, and openssl verifies the certificate up to the root."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from enrollment.services.authorities import do_import_ca
    from pki.authority import KeyPair
    from tests.base.scep.client import make_ca, make_intermediate_ca

    root = make_ca("Interop Root", path_length=None)
    intermediate = make_intermediate_ca(root, "Interop Intermediate")
    do_import_ca(tenant, KeyPair(intermediate.key, intermediate.cert, (root.cert,)),
                 actor=admin)
    minted = do_create_challenge(tenant, actor=admin)
    result = scepclient(scep_url, tmp_path / "device", minted.raw, cn="chained-device")
    assert result.returncode == 0, result.stdout + result.stderr
    (tmp_path / "root.pem").write_bytes(root.cert.public_bytes(Encoding.PEM))
    (tmp_path / "intermediate.pem").write_bytes(intermediate.cert.public_bytes(Encoding.PEM))
    verified = openssl("verify", "-CAfile", tmp_path / "root.pem", "-untrusted",
                       tmp_path / "intermediate.pem", tmp_path / "device" / "cert.pem",
                       text=True, check=False)
    assert verified.returncode == 0 and ": OK" in verified.stdout, verified.stderr
    issued = IssuedCertificate.objects.get(tenant=tenant, common_name="chained-device")
    assert issued.authority.chain_pem.startswith("-----BEGIN CERTIFICATE-----")
