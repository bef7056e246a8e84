"""APNs over HTTP/2 (httpx[http2]): the MDM push with a client certificate, and the agent
app's alert push with token-based auth (ES256 JWT from a .p8 key).

No Django here. One `ApnsClient` holds one HTTP/2 connection and multiplexes concurrent
requests on it (asyncio, on one background event loop per process); `client_for(...)` keeps
one per topic (certificate) or signing key per process, so consecutive pushes reuse the
connection instead of opening one per push.

Responses: 200 sent; 400 BadDeviceToken and 410 Unregistered mean the token is dead; 429 and
5xx (and connection errors) are retried here with exponential backoff, then reported as data.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12
from h2.exceptions import H2Error

MDM_TOPIC_PREFIX = "com.apple.mgmt."
# Apple: refresh the provider token at most every 20 minutes and at least every 60.
JWT_REFRESH_SECONDS = 50 * 60
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----",
                      re.DOTALL)


class ApnsCertificateError(ValueError):
    """The uploaded certificate or key cannot be used (user-facing message)."""


# --- the certificate -------------------------------------------------------------------------

@dataclass(frozen=True)
class PushCertificate:
    certificate_pem: bytes
    private_key_pem: bytes  # PKCS#8, unencrypted (the caller encrypts it at rest)
    topic: str
    subject: str
    serial_number: str
    not_before: object  # aware datetime
    not_after: object


def topic_of(certificate: x509.Certificate) -> str:
    """The MDM push topic: the certificate's UID, com.apple.mgmt.External.<uuid>."""
    uid = [a.value for a in certificate.subject if a.oid == x509.NameOID.USER_ID]
    topic = str(uid[0]) if uid else ""
    if not topic.startswith(MDM_TOPIC_PREFIX):
        raise ApnsCertificateError(
            "This is not an MDM push certificate: its UID should read "
            "com.apple.mgmt.External.<uuid>.")
    return topic


def load_push_certificate(data: bytes, *, password: str | None = None,
                          key_data: bytes | None = None) -> PushCertificate:
    """Parse a PKCS#12 file (with `password`) or PEM (certificate and key in `data`, or the key
    in `key_data`). Raises ApnsCertificateError with a message for the admin."""
    pw = password.encode() if password else None
    certificate = key = None
    if b"-----BEGIN" in data or (key_data and b"-----BEGIN" in key_data):
        blob = data + b"\n" + (key_data or b"")
        try:
            certificate = x509.load_pem_x509_certificates(blob)[0]
        except ValueError:
            raise ApnsCertificateError("No certificate found in the PEM file.") from None
        found = _PEM_KEY.search(blob)
        if found is None:
            raise ApnsCertificateError("The private key is missing: upload it with the "
                                       "certificate (PEM) or use the .p12 file.")
        try:
            key = serialization.load_pem_private_key(found.group(0), password=pw)
        except Exception:  # ValueError, TypeError, UnsupportedAlgorithm
            raise ApnsCertificateError("The private key cannot be read (wrong password?).") \
                from None
    else:
        try:
            key, certificate, _ = pkcs12.load_key_and_certificates(data, pw)
        except Exception:  # ValueError, TypeError, UnsupportedAlgorithm
            raise ApnsCertificateError("The PKCS#12 file cannot be opened (wrong password, or "
                                       "not a .p12 file).") from None
        if certificate is None or key is None:
            raise ApnsCertificateError("The PKCS#12 file must hold the certificate and key.")
    public = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo) != public:
        raise ApnsCertificateError("The private key does not belong to the certificate.")
    return PushCertificate(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()),
        topic=topic_of(certificate),
        subject=certificate.subject.rfc4514_string()[:500],
        serial_number=format(certificate.serial_number, "x"),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def client_ssl_context(certificate_pem: bytes | None, private_key_pem: bytes | None, *,
                       ca_file: str | None = None) -> ssl.SSLContext:
    """An SSLContext that presents the client certificate. (httpx with `verify=<path>` plus
    `cert=` silently drops the client certificate: the context must carry both.)"""
    context = ssl.create_default_context(cafile=ca_file) if ca_file \
        else ssl.create_default_context()
    if certificate_pem is not None:
        # load_cert_chain only reads files: a private temporary file, removed at once.
        fd, path = tempfile.mkstemp(prefix="apns-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(certificate_pem + b"\n" + private_key_pem)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
    context.set_alpn_protocols(["h2"])
    return context


# --- token-based auth (the agent app) --------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ProviderToken:
    """ES256 JWT for APNs token auth, cached and re-signed before it is an hour old."""

    def __init__(self, key_pem: bytes, key_id: str, team_id: str, *,
                 clock: Callable[[], float] = time.time):
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except Exception:  # ValueError, TypeError, UnsupportedAlgorithm: all "unusable"
            raise ApnsCertificateError("The APNs auth key cannot be read: upload the .p8 "
                                       "file from Apple Developer (Keys).") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ApnsCertificateError("The APNs auth key must be an ES256 (P-256) .p8 key.")
        self._key, self.key_id, self.team_id, self._clock = key, key_id, team_id, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._issued_at = 0.0

    def current(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._issued_at >= JWT_REFRESH_SECONDS:
                self._token, self._issued_at = self._sign(int(now)), now
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _sign(self, issued_at: int) -> str:
        header = _b64url(json.dumps({"alg": "ES256", "kid": self.key_id},
                                    separators=(",", ":")).encode())
        claims = _b64url(json.dumps({"iss": self.team_id, "iat": issued_at},
                                    separators=(",", ":")).encode())
        signing_input = f"{header}.{claims}".encode()
        r, s = decode_dss_signature(self._key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return f"{header}.{claims}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


# --- sending ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    token: str          # device token, hex
    topic: str
    payload: bytes
    push_type: str = "mdm"  # mdm | alert | background
    priority: int = 10
    expiration: int = 0


def mdm_notification(token: bytes | str, push_magic: str, topic: str) -> Notification:
    hex_token = token if isinstance(token, str) else bytes(token).hex()
    return Notification(token=hex_token, topic=topic,
                        payload=json.dumps({"mdm": push_magic}).encode())


def alert_notification(token: str, bundle_id: str, *, title: str, body: str,
                       data: dict | None = None) -> Notification:
    payload = {"aps": {"alert": {"title": title, "body": body}, "sound": "default"},
               **(data or {})}
    return Notification(token=token, topic=bundle_id, payload=json.dumps(payload).encode(),
                        push_type="alert")


@dataclass(frozen=True)
class ApnsResponse:
    status: int | None       # HTTP status; None when no answer came (connection failed)
    reason: str = ""          # APNs reason (BadDeviceToken, Unregistered, ...) or the error
    apns_id: str = ""
    tries: int = 1

    @property
    def result(self) -> str:
        """One of devices.models.PushResult's values."""
        if self.status == 200:
            return "sent"
        if self.status == 410 or self.reason == "Unregistered":
            return "unregistered"
        if self.status == 400 and self.reason in ("BadDeviceToken", "DeviceTokenNotForTopic"):
            return "bad_token"
        if self.status == 429:
            return "throttled"
        if self.status is None or self.status >= 500:
            return "server_error"
        return "failed"

    @property
    def retryable(self) -> bool:
        return self.result in ("throttled", "server_error")


class _EventLoop:
    """One background event loop per process that owns every APNs connection: HTTP/2 streams
    are multiplexed by asyncio (httpcore's sync HTTP/2 is not safe to share between threads:
    concurrent header encoding corrupts the HPACK state). A forked child (Celery prefork)
    starts its own."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None
    _pid: int | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="apns-loop",
                                 daemon=True).start()
                cls._loop, cls._pid = loop, os.getpid()
            return cls._loop


def _run(coroutine):
    return asyncio.run_coroutine_threadsafe(coroutine, _EventLoop.get()).result()


class ApnsClient:
    """One HTTP/2 connection to APNs; `send_many` runs up to `concurrency` streams at once."""

    def __init__(self, base_url: str, ssl_context: ssl.SSLContext, *,
                 provider_token: ProviderToken | None = None, concurrency: int = 32,
                 max_retries: int = 3, backoff_seconds: float = 0.5, timeout: float = 15.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.base_url = base_url.rstrip("/")
        self.provider_token = provider_token
        self.concurrency, self.max_retries = concurrency, max_retries
        self.backoff_seconds, self._sleep = backoff_seconds, sleep
        self._ssl_context, self._timeout = ssl_context, timeout
        self._http: httpx.AsyncClient | None = None  # made on the loop, at first use

    def close(self) -> None:
        if self._http is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown)
                _run(self._http.aclose())
            self._http = None

    def _headers(self, n: Notification) -> dict:
        headers = {"apns-topic": n.topic, "apns-push-type": n.push_type,
                   "apns-priority": str(n.priority), "apns-expiration": str(n.expiration)}
        if self.provider_token is not None:
            headers["authorization"] = f"bearer {self.provider_token.current()}"
        return headers

    async def _once(self, n: Notification) -> ApnsResponse:
        if self._http is None:
            self._http = httpx.AsyncClient(
                http2=True, verify=self._ssl_context, timeout=self._timeout,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        try:
            response = await self._http.post(f"{self.base_url}/3/device/{n.token}",
                                             content=n.payload, headers=self._headers(n))
        except (httpx.HTTPError, H2Error, ssl.SSLError, OSError) as exc:
            # No answer (connection refused or lost): retried, then reported as data.
            return ApnsResponse(None, f"{type(exc).__name__}: {exc}"[:200])
        reason = ""
        if response.status_code != 200:
            try:
                reason = str(response.json().get("reason", ""))
            except ValueError:
                reason = response.text[:200]
        return ApnsResponse(response.status_code, reason,
                            response.headers.get("apns-id", ""))

    async def _send(self, n: Notification, streams: asyncio.Semaphore) -> ApnsResponse:
        """One notification, retrying 429/5xx/no answer with exponential backoff (the
        stream slot is given back while waiting)."""
        tries, refreshed = 0, False
        while True:
            tries += 1
            async with streams:
                answer = await self._once(n)
            if (answer.status == 403 and answer.reason == "ExpiredProviderToken"
                    and self.provider_token is not None and not refreshed):
                self.provider_token.invalidate()
                refreshed = True
                continue
            if not answer.retryable or tries > self.max_retries:
                return ApnsResponse(answer.status, answer.reason, answer.apns_id, tries)
            await self._sleep(self.backoff_seconds * (2 ** (tries - 1)))

    async def _send_many(self, batch: list[Notification]) -> list[ApnsResponse]:
        streams = asyncio.Semaphore(self.concurrency)
        return list(await asyncio.gather(*(self._send(n, streams) for n in batch)))

    def send(self, n: Notification) -> ApnsResponse:
        return self.send_many([n])[0]

    def send_many(self, notifications: Iterable[Notification]) -> list[ApnsResponse]:
        """Concurrent streams on the one connection; answers in the order given."""
        batch = list(notifications)
        return _run(self._send_many(batch)) if batch else []


# --- one client per topic / key, per process -------------------------------------------------

_clients: dict[tuple, ApnsClient] = {}
_clients_pid = os.getpid()
_clients_lock = threading.Lock()


def client_for(key: tuple, make: Callable[[], ApnsClient]) -> ApnsClient:
    """The process's client for `key` (e.g. (url, topic, certificate serial)), made once."""
    global _clients_pid
    with _clients_lock:
        if _clients_pid != os.getpid():  # forked: the parent's connections are not ours
            _clients.clear()
            _clients_pid = os.getpid()
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = make()
        return client


def close_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
