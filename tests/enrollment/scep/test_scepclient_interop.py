"""Interop with a real SCEP client: Debian's micromdm ``scepclient`` against this package.

A loopback HTTP server answers GetCACert, GetCACaps and PKIOperation (GET and POST) with
the pure protocol layer. Needs Debian's ``scep`` package (installed by .ci/run).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509

from enrollment.scep import capabilities, messages, transport
from enrollment.scep.errors import ScepError, UnparseableMessage
from enrollment.scep.oids import FailInfo
from tests.base.scep.client import Identity, issue_certificate, make_ca

CHALLENGE = "s3cret+/challenge"


class _ScepHandler(BaseHTTPRequestHandler):
    ca: Identity
    seen: list[messages.PKIMessage]

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        operation = query.get("operation", [""])[0]
        if operation == "GetCACert":
            self._reply(200, *capabilities.get_ca_cert_response([self.ca.cert]))
        elif operation == "GetCACaps":
            self._reply(200, capabilities.CA_CAPS_CONTENT_TYPE, capabilities.get_ca_caps().encode())
        elif operation == "PKIOperation":
            try:
                der = transport.decode_message_param(query.get("message", [""])[0])
            except UnparseableMessage:
                self._reply(400, "text/plain", b"bad message")
                return
            self._pki_operation(der)
        else:
            self._reply(400, "text/plain", b"unknown operation")

    def do_POST(self) -> None:
        self._pki_operation(self.rfile.read(int(self.headers["Content-Length"])))

    def _pki_operation(self, der: bytes) -> None:
        ca = self.ca
        try:
            msg = messages.parse_pki_message(der)
            self.seen.append(msg)
            request = messages.decrypt_request(msg, ca.key, ca.cert)
            if request.challenge_password != CHALLENGE:
                body = messages.build_cert_rep_failure(msg, FailInfo.BAD_REQUEST, ca.key, ca.cert)
            else:
                issued = issue_certificate(ca, request.csr)
                body = messages.build_cert_rep_success(msg, issued, ca.key, ca.cert)
        except ScepError as exc:
            if exc.reply_to is None:
                self._reply(400, "text/plain", b"unparseable")
                return
            assert exc.fail_info is not None
            body = messages.build_cert_rep_failure(exc.reply_to, exc.fail_info, ca.key, ca.cert)
        self._reply(200, transport.PKI_MESSAGE_CONTENT_TYPE, body)


@pytest.fixture(scope="module")
def scep_server() -> Iterator[tuple[str, type[_ScepHandler]]]:
    handler = type("Handler", (_ScepHandler,), {"ca": make_ca("Interop CA"), "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/scep", handler
    server.shutdown()
    server.server_close()


def test_scepclient_enrolls(scepclient, scep_server, tmp_path: Path) -> None:
    url, handler = scep_server
    result = scepclient(url, tmp_path / "device", CHALLENGE)
    assert result.returncode == 0, result.stdout + result.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "device" / "cert.pem").read_bytes())
    cert.verify_directly_issued_by(handler.ca.cert)
    assert "interop-device" in cert.subject.rfc4514_string()
    assert handler.seen[-1].digest_algorithm == "sha1"  # scepclient: DES + SHA-1, answered DES3


def test_scepclient_wrong_challenge_gets_bad_request(scepclient, scep_server,
                                                     tmp_path: Path) -> None:
    url, _ = scep_server
    result = scepclient(url, tmp_path / "device", "wrong")
    assert result.returncode != 0
    assert "badRequest" in result.stdout + result.stderr
    assert not (tmp_path / "device" / "cert.pem").exists()
