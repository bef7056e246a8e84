"""A loopback Google: the OAuth token endpoint (service-account JWT bearer grant, assertion
verified against the service account's key) and FCM HTTP v1 `messages:send` (checks the
bearer token and the message shape; answers as scripted per registration token)."""

from __future__ import annotations

import json
import secrets
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import google.auth.jwt

ERRORS = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    404: ("NOT_FOUND", "UNREGISTERED"),
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    500: ("INTERNAL", "INTERNAL"),
    503: ("UNAVAILABLE", "UNAVAILABLE"),
}


class FcmTestServer:
    def __init__(self, service_account_public_pem: bytes, project_id: str = "demo-project"):
        self.public_pem = service_account_public_pem
        self.project_id = project_id
        self.messages: list[dict] = []
        self.token_requests = 0
        self.scripts: dict[str, deque] = defaultdict(deque)
        self.access_tokens: set[str] = set()
        self.lock = threading.Lock()

    def script(self, token: str, *statuses: int) -> None:
        self.scripts[token].extend(statuses)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def start(self) -> FcmTestServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    return self._reply(*server.token(body))
                return self._reply(*server.send(self.path, self.headers, body))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def token(self, body: bytes) -> tuple[int, dict]:
        form = parse_qs(body.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}
        try:
            # google-auth addresses the assertion to Google's token endpoint whatever token_uri
            claims = google.auth.jwt.decode(form["assertion"][0], certs=self.public_pem,
                                            audience=[self.token_uri,
                                                      "https://oauth2.googleapis.com/token"])
        except (ValueError, KeyError) as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        if "firebase.messaging" not in claims.get("scope", ""):
            return 400, {"error": "invalid_scope"}
        access = "ya29." + secrets.token_urlsafe(16)
        with self.lock:
            self.token_requests += 1
            self.access_tokens.add(access)
        return 200, {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}

    def send(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        if path != f"/v1/projects/{self.project_id}/messages:send":
            return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": path}}
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.access_tokens:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                   "message": "Request had invalid authentication."}}
        message = json.loads(body).get("message", {})
        if not message.get("token") or not isinstance(message.get("data", {}), dict) or any(
                not isinstance(v, str) for v in message.get("data", {}).values()):
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                   "message": "bad message"}}
        with self.lock:
            self.messages.append(message)
            script = self.scripts.get(message["token"])
            status = script.popleft() if script else 200
        if status == 200:
            return 200, {"name": f"projects/{self.project_id}/messages/{secrets.token_hex(8)}"}
        rpc_status, code = ERRORS[status]
        return status, {"error": {"code": status, "status": rpc_status, "message": code,
                                  "details": [{"@type": "type.googleapis.com/google.firebase."
                                                        "fcm.v1.FcmError", "errorCode": code}]}}
