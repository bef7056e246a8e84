"""A loopback APNs: HTTP/2 over TLS (h2 library), trusting the test CA for client certificates.

It checks what Apple checks: `:method POST`, `:path /3/device/<hex token>`, `apns-topic`,
`apns-push-type`; the caller is authenticated either by a client certificate whose UID is the
topic (MDM) or by an ES256 provider token (`authorization: bearer <jwt>`) signed by the
expected key. It answers as scripted per token (a list of statuses consumed in order, then
200), records every request and counts TLS connections.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

REASONS = {400: "BadDeviceToken", 403: "BadCertificate", 410: "Unregistered",
           429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    client_topic: str | None  # UID of the client certificate, if one was presented
    status: int = 0


@dataclass
class ApnsTestServer:
    ca_file: str
    cert_file: str
    key_file: str
    jwt_key: ec.EllipticCurvePublicKey | None = None
    jwt_team: str = "TEAM123456"
    jwt_key_id: str = "KEY1234567"
    requests: list[Received] = field(default_factory=list)
    connections: int = 0
    scripts: dict = field(default_factory=lambda: defaultdict(deque))
    default_status: int = 200
    jwt_tokens_seen: set = field(default_factory=set)

    def script(self, token: str, *statuses: int) -> None:
        self.scripts[token].extend(statuses)

    def start(self) -> ApnsTestServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        context.load_verify_locations(self.ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.set_alpn_protocols(["h2"])
        self._context = context
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._sock.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            sock = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        with self._lock:
            self.connections += 1
        peer = sock.getpeercert()
        client_topic = None
        if peer:
            for rdn in peer.get("subject", ()):
                for key, value in rdn:
                    if key == "userId":
                        client_topic = value
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                    header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        streams: dict[int, Received] = {}
        try:
            while True:
                data = sock.recv(65535)
                if not data:
                    return
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        headers = dict(event.headers)
                        streams[event.stream_id] = Received(headers.get(":path", ""), headers,
                                                            b"", client_topic)
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id].body += event.data
                        conn.acknowledge_received_data(event.flow_controlled_length,
                                                       event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        self._respond(conn, event.stream_id, streams.pop(event.stream_id))
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        sock.sendall(conn.data_to_send())
                        return
                sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError):
            return
        finally:
            sock.close()

    def _check(self, request: Received) -> tuple[int, str]:
        headers = request.headers
        if headers.get(":method") != "POST" or not request.path.startswith("/3/device/"):
            return 405, "MethodNotAllowed"
        token = request.path.rsplit("/", 1)[1]
        try:
            bytes.fromhex(token)
        except ValueError:
            return 400, "BadDeviceToken"
        topic = headers.get("apns-topic")
        if not topic:
            return 400, "MissingTopic"
        if headers.get("apns-push-type") not in ("mdm", "alert", "background"):
            return 400, "InvalidPushType"
        try:
            payload = json.loads(request.body)
        except ValueError:
            return 400, "PayloadEmpty"
        if headers.get("apns-push-type") == "mdm":
            if request.client_topic is None:
                return 403, "MissingProviderToken"
            if request.client_topic != topic:
                return 400, "TopicDisallowed"
            if set(payload) != {"mdm"}:
                return 400, "BadPayload"
        else:
            auth = headers.get("authorization", "")
            if not auth.startswith("bearer ") or not self._jwt_ok(auth[7:]):
                return 403, "InvalidProviderToken"
            if "aps" not in payload:
                return 400, "BadPayload"
        with self._lock:
            script = self.scripts.get(token)
            status = script.popleft() if script else self.default_status
        return status, REASONS.get(status, "")

    def _jwt_ok(self, token: str) -> bool:
        if self.jwt_key is None:
            return False
        try:
            header_b64, claims_b64, sig_b64 = token.split(".")
            pad = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))  # noqa: E731
            header, claims, sig = json.loads(pad(header_b64)), json.loads(pad(claims_b64)), \
                pad(sig_b64)
            if header != {"alg": "ES256", "kid": self.jwt_key_id} or \
                    claims.get("iss") != self.jwt_team or "iat" not in claims:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            self.jwt_key.verify(der, f"{header_b64}.{claims_b64}".encode(),
                                ec.ECDSA(hashes.SHA256()))
        except (ValueError, InvalidSignature):
            return False
        with self._lock:
            self.jwt_tokens_seen.add(token)
        return True

    def _respond(self, conn, stream_id: int, request: Received) -> None:
        status, reason = self._check(request)
        request.status = status
        with self._lock:
            self.requests.append(request)
        headers = [(":status", str(status)), ("apns-id", str(uuid.uuid4()).upper())]
        body = b""
        if status != 200:
            body = json.dumps({"reason": reason, **({"timestamp": 1700000000000}
                                                   if status == 410 else {})}).encode()
            headers.append(("content-type", "application/json"))
        headers.append(("content-length", str(len(body))))
        conn.send_headers(stream_id, headers, end_stream=not body)
        if body:
            conn.send_data(stream_id, body, end_stream=True)
