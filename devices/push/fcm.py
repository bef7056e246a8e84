"""Firebase Cloud Messaging HTTP v1 for the Android agent app.

No Django here. A service account (google-auth) gets an OAuth access token for the
`firebase.messaging` scope, refreshed by google-auth when it nears expiry;
`POST {base}/v1/projects/<project>/messages:send` carries one message per token.
Answers: 200 sent; 404 UNREGISTERED / 403 SENDER_ID_MISMATCH mean the token is dead;
429 and 5xx are retried with backoff (honouring Retry-After); 401 refreshes the token once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import service_account

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


class FcmCredentialsError(ValueError):
    """The service account JSON cannot be used (user-facing message)."""


def parse_service_account(info: dict) -> service_account.Credentials:
    if not isinstance(info, dict):
        raise FcmCredentialsError("Upload a service account key (a JSON object).")
    for key in ("type", "project_id", "private_key", "client_email", "token_uri"):
        if not info.get(key) or not isinstance(info[key], str) or len(info[key]) > 5000 \
                or "\x00" in info[key]:  # stored in text columns, which refuse NUL
            raise FcmCredentialsError(f"The service account JSON has no valid {key!r}.")
    if info["type"] != "service_account":
        raise FcmCredentialsError("Upload a service account key (type service_account).")
    if len(info["project_id"]) > 200 or len(info["client_email"]) > 300:
        raise FcmCredentialsError("The project id or client email is too long.")
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[FCM_SCOPE])
    except Exception as exc:  # untrusted input: any parse failure means "unusable"
        raise FcmCredentialsError(f"The service account key cannot be read: {exc}") from None


@dataclass(frozen=True)
class FcmMessage:
    token: str
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"message": {
            "token": self.token,
            "notification": {"title": self.title, "body": self.body},
            "data": {k: str(v) for k, v in self.data.items()},
            "android": {"priority": "HIGH"},
        }}


@dataclass(frozen=True)
class FcmResponse:
    status: int | None
    error_code: str = ""   # FcmError errorCode, else the google.rpc status, else the error
    message_id: str = ""   # projects/<p>/messages/<id>
    tries: int = 1

    @property
    def result(self) -> str:
        if self.status == 200:
            return "sent"
        if self.error_code == "UNREGISTERED" or self.status == 404:
            return "unregistered"
        if self.error_code == "SENDER_ID_MISMATCH":
            return "bad_token"
        if self.status == 429 or self.error_code == "QUOTA_EXCEEDED":
            return "throttled"
        if self.status is None or self.status >= 500:
            return "server_error"
        return "failed"

    @property
    def retryable(self) -> bool:
        return self.result in ("throttled", "server_error")


def _error_code(payload: dict) -> str:
    error = payload.get("error") or {}
    for detail in error.get("details") or []:
        if detail.get("@type") == FCM_ERROR_TYPE and detail.get("errorCode"):
            return str(detail["errorCode"])
    return str(error.get("status") or "")


class FcmClient:
    def __init__(self, service_account_info: dict, *, base_url: str = "https://fcm.googleapis.com",
                 concurrency: int = 16, max_retries: int = 3, backoff_seconds: float = 0.5,
                 timeout: float = 15.0, sleep: Callable[[float], None] = time.sleep):
        self.credentials = parse_service_account(service_account_info)
        self.project_id = service_account_info["project_id"]
        self.url = f"{base_url.rstrip('/')}/v1/projects/{self.project_id}/messages:send"
        self.max_retries, self.backoff_seconds, self._sleep = max_retries, backoff_seconds, sleep
        self._http = httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fcm")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._http.close()

    def access_token(self, *, force: bool = False) -> str:
        with self._lock:
            if force or not self.credentials.valid:
                self.credentials.refresh(GoogleAuthRequest())
            return self.credentials.token

    def _once(self, message: FcmMessage, *, force_token: bool = False
              ) -> tuple[FcmResponse, float]:
        try:
            token = self.access_token(force=force_token)
        except RefreshError as exc:  # the token endpoint refused the service account
            return FcmResponse(401, f"RefreshError: {exc}"[:200]), 0.0
        except TransportError as exc:  # the token endpoint did not answer: try again later
            return FcmResponse(None, f"TransportError: {exc}"[:200]), 0.0
        try:
            response = self._http.post(self.url, json=message.as_json(),
                                       headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            return FcmResponse(None, f"{type(exc).__name__}: {exc}"[:200]), 0.0
        if response.status_code == 200:
            return FcmResponse(200, message_id=str(response.json().get("name", ""))), 0.0
        try:
            code = _error_code(response.json())
        except ValueError:
            code = response.text[:200]
        retry_after = response.headers.get("retry-after", "")
        wait = float(retry_after) if retry_after.isdigit() else 0.0
        return FcmResponse(response.status_code, code), wait

    def send(self, message: FcmMessage) -> FcmResponse:
        tries, refreshed = 0, False
        force = False
        while True:
            tries += 1
            answer, wait = self._once(message, force_token=force)
            force = False
            if answer.status == 401 and not refreshed:
                refreshed = force = True
                continue
            if not answer.retryable or tries > self.max_retries:
                return FcmResponse(answer.status, answer.error_code, answer.message_id, tries)
            self._sleep(max(wait, self.backoff_seconds * (2 ** (tries - 1))))

    def send_many(self, messages: Iterable[FcmMessage]) -> list[FcmResponse]:
        batch = list(messages)
        if len(batch) <= 1:
            return [self.send(m) for m in batch]
        return list(self._pool.map(self.send, batch))
