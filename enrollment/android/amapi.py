"""A thin, typed wrapper around Google's Android Management API client.

`googleapiclient.discovery.build("androidmanagement", "v1", static_discovery=True)` uses the
discovery document bundled with the library, so no discovery request is made and every call is
validated against the published API description. Credentials come from the tenant's stored
service account (`AndroidEnterprise.service_account_info()`).

Errors are typed: 429 and 5xx (and network failures) are retried with exponential backoff and
jitter, then raised as `AmapiUnavailable`; 404 is `AmapiNotFound`; any other 4xx is
`AmapiRequestError` carrying Google's message for the admin. No Django imports here.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/androidmanagement"
MAX_PAGE_SIZE = 100  # devices.list silently caps pageSize at 100
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def pause_between_attempts(seconds: float) -> None:
    """The backoff pause (tests replace it to run without waiting)."""
    time.sleep(seconds)


class AmapiError(Exception):
    """A failed AMAPI call. `message` is fit to show an admin."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class AmapiUnavailable(AmapiError):
    """Google answered 429/5xx (or could not be reached) on every attempt: try again later."""


class AmapiNotFound(AmapiError):
    """404: the enterprise, device, token or operation does not exist (any more)."""


class AmapiRequestError(AmapiError):
    """Another 4xx: the request or the credentials are wrong; retrying will not help."""


class AmapiNotConfigured(AmapiError):
    """No service account (or no bound enterprise) for this tenant."""


@dataclass(frozen=True)
class SignupUrl:
    name: str
    url: str


def build_service(*, credentials=None, http=None):
    """The discovery-built service (offline). Give credentials or an http, never both."""
    return build("androidmanagement", "v1", credentials=credentials, http=http,
                 static_discovery=True, cache_discovery=False)


def credentials_from_info(info: dict):
    from google.oauth2 import service_account

    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except (ValueError, KeyError) as exc:
        raise AmapiNotConfigured(f"The service-account key is not usable: {exc}") from None


def _error_from_http(exc: HttpError) -> AmapiError:
    status = int(getattr(exc.resp, "status", 0) or 0)
    message, reason = "", ""
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = str(error.get("message", ""))
        reason = str(error.get("status", ""))
    except (ValueError, AttributeError):
        pass
    text = f"Google answered {status}{f' ({reason})' if reason else ''}: " \
           f"{message or exc._get_reason() or 'no message'}"
    if status == 404:
        return AmapiNotFound(text, status=status, reason=reason)
    if status in TRANSIENT_STATUSES:
        return AmapiUnavailable(text, status=status, reason=reason)
    return AmapiRequestError(text, status=status, reason=reason)


class AmapiClient:
    """One object per tenant call site. `sleep` is injectable so tests check the backoff."""

    def __init__(self, service, *, attempts: int = 5, backoff_seconds: float = 0.5,
                 max_backoff_seconds: float = 16.0,
                 sleep: Callable[[float], None] | None = None):
        self.service = service
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.sleep = sleep

    @classmethod
    def from_service_account(cls, info: dict | None, **kwargs) -> AmapiClient:
        if not info:
            raise AmapiNotConfigured("No Android Enterprise service account is configured.")
        return cls(build_service(credentials=credentials_from_info(info)), **kwargs)

    # --- the retry loop -------------------------------------------------------------------

    def _execute(self, request) -> dict:
        delay = self.backoff_seconds
        for attempt in range(1, self.attempts + 1):
            try:
                return request.execute() or {}
            except HttpError as exc:
                error = _error_from_http(exc)
            except (TimeoutError, OSError) as exc:  # network: DNS, reset, timeout
                error = AmapiUnavailable(f"Google could not be reached: {exc}")
            if not isinstance(error, AmapiUnavailable) or attempt == self.attempts:
                raise error
            pause = min(self.max_backoff_seconds, delay) * (0.5 + random.random() / 2)
            log.warning("AMAPI %s failed (%s), retry %d in %.2fs", request.methodId,
                        error.message, attempt, pause)
            (self.sleep or pause_between_attempts)(pause)
            delay *= 2
        raise AssertionError("unreachable")

    # --- signup and enterprises ---------------------------------------------------------------

    def create_signup_url(self, project_id: str, callback_url: str,
                          admin_email: str | None = None) -> SignupUrl:
        params: dict[str, Any] = {"projectId": project_id, "callbackUrl": callback_url}
        if admin_email:
            params["adminEmail"] = admin_email
        body = self._execute(self.service.signupUrls().create(**params))
        return SignupUrl(name=body["name"], url=body["url"])

    def create_enterprise(self, project_id: str, signup_url_name: str, enterprise_token: str,
                          enterprise: dict) -> dict:
        return self._execute(self.service.enterprises().create(
            projectId=project_id, signupUrlName=signup_url_name,
            enterpriseToken=enterprise_token, agreementAccepted=True, body=enterprise))

    def list_enterprises(self, project_id: str) -> list[dict]:
        found, token = [], None
        while True:
            params = {"projectId": project_id, "pageSize": MAX_PAGE_SIZE}
            if token:
                params["pageToken"] = token
            page = self._execute(self.service.enterprises().list(**params))
            found += page.get("enterprises", [])
            token = page.get("nextPageToken")
            if not token:
                return found

    def get_enterprise(self, name: str) -> dict:
        return self._execute(self.service.enterprises().get(name=name))

    def patch_enterprise(self, name: str, enterprise: dict, update_mask: str) -> dict:
        return self._execute(self.service.enterprises().patch(
            name=name, updateMask=update_mask, body=enterprise))

    def delete_enterprise(self, name: str) -> None:
        self._execute(self.service.enterprises().delete(name=name))

    # --- policies and enrollment tokens ------------------------------------------------------

    def patch_policy(self, name: str, policy: dict) -> dict:
        return self._execute(self.service.enterprises().policies().patch(name=name,
                                                                         body=policy))

    def create_enrollment_token(self, enterprise_name: str, token: dict) -> dict:
        return self._execute(self.service.enterprises().enrollmentTokens().create(
            parent=enterprise_name, body=token))

    def delete_enrollment_token(self, name: str) -> None:
        self._execute(self.service.enterprises().enrollmentTokens().delete(name=name))

    # --- devices ----------------------------------------------------------------------------

    def iter_device_pages(self, enterprise_name: str,
                          page_size: int = MAX_PAGE_SIZE) -> Iterator[list[dict]]:
        token = None
        while True:
            params = {"parent": enterprise_name, "pageSize": min(page_size, MAX_PAGE_SIZE)}
            if token:
                params["pageToken"] = token
            page = self._execute(self.service.enterprises().devices().list(**params))
            yield page.get("devices", [])
            token = page.get("nextPageToken")
            if not token:
                return

    def get_device(self, name: str) -> dict:
        return self._execute(self.service.enterprises().devices().get(name=name))

    def patch_device(self, name: str, device: dict, update_mask: str) -> dict:
        return self._execute(self.service.enterprises().devices().patch(
            name=name, updateMask=update_mask, body=device))

    def delete_device(self, name: str, *, wipe_data_flags: list[str] | None = None,
                      wipe_reason_message: str | None = None) -> None:
        params: dict[str, Any] = {"name": name}
        if wipe_data_flags:
            params["wipeDataFlags"] = wipe_data_flags
        if wipe_reason_message:
            params["wipeReasonMessage"] = wipe_reason_message[:200]
        self._execute(self.service.enterprises().devices().delete(**params))

    def issue_command(self, name: str, command: dict) -> dict:
        return self._execute(self.service.enterprises().devices().issueCommand(
            name=name, body=command))

    def get_operation(self, name: str) -> dict:
        return self._execute(self.service.enterprises().devices().operations().get(name=name))


def client_for(enterprise, **kwargs) -> AmapiClient:
    """The client for a tenant's `AndroidEnterprise` (its stored service account)."""
    return AmapiClient.from_service_account(enterprise.service_account_info(), **kwargs)
