"""The agent app's access: QR tokens minted in the self-service portal, and app sessions.

QR registration is for iOS 14+ and Android 9+ only (S14); older systems get a clear refusal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from enrollment.models import AppQrToken, AppSession

QR_TOKEN_TTL = dt.timedelta(minutes=10)
QR_MINIMUM_OS = {"ios": 14, "android": 9}


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class MintedQr:
    token: AppQrToken
    payload: str  # what the QR code carries: the app's registration URL with the token


def app_register_url(tenant) -> str:
    return settings.MDM_PUBLIC_URL + reverse("app-register", kwargs={"tenant_slug": tenant.slug})


@transaction.atomic
def do_create_qr_token(tenant, user, *, origin=None) -> MintedQr:
    """A new single-use QR token; earlier unused ones of this user stop working."""
    now = timezone.now()
    AppQrToken.objects.for_tenant(tenant).filter(user=user, used_at__isnull=True,
                                                 expires_at__gt=now).update(expires_at=now)
    raw = secrets.token_urlsafe(24)
    token = AppQrToken.objects.create(tenant=tenant, user=user, token_hash=_hash(raw),
                                      expires_at=now + QR_TOKEN_TTL)
    record(tenant, AuditAction.QR_TOKEN_CREATED, actor=user, target=token, user=user,
           origin=origin, detail={"expires_at": token.expires_at.isoformat()})
    return MintedQr(token, f"{app_register_url(tenant)}?qr={raw}")


class AppAccessRefused(Exception):
    """`code` is machine-readable, the message user-facing."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def check_os_supports_qr(platform: str, os_version: str) -> None:
    minimum = QR_MINIMUM_OS.get(platform)
    try:
        major = int(str(os_version).split(".")[0])
    except ValueError:
        raise AppAccessRefused("bad_os_version", "os_version must look like 17.4 or 14.") from None
    if minimum is None or major < minimum:
        name = {"ios": "iOS", "android": "Android"}.get(platform, platform)
        raise AppAccessRefused(
            "os_not_supported",
            f"QR registration needs {name} {minimum} or later; this device runs {os_version}. "
            "Sign in with your email and password instead." if minimum else
            "QR registration is only for iPhone, iPad and Android devices.")


def _valid_qr_token(tenant, raw: str, *, lock: bool) -> AppQrToken:
    tokens = AppQrToken.objects.for_tenant(tenant).select_related("user")
    if lock:
        tokens = tokens.select_for_update()
    token = tokens.filter(token_hash=_hash(raw or "")).first()
    if token is None or token.used_at is not None:
        raise AppAccessRefused("qr_invalid", "This QR code was already used or is not valid. "
                                             "Show a new one in the self-service portal.")
    if token.expires_at <= timezone.now():
        raise AppAccessRefused("qr_expired", "This QR code has expired. "
                                             "Show a new one in the self-service portal.")
    if not token.user.is_active:
        raise AppAccessRefused("account_disabled", "This account is disabled.")
    return token


def peek_qr_token(tenant, raw: str):
    """The user of a valid, unused QR token, without using it up."""
    return _valid_qr_token(tenant, raw, lock=False).user


def redeem_qr_token(tenant, raw: str):
    """The user of a valid, unused QR token, marking it used (row locked: used once). Call
    inside the transaction that starts the registration."""
    token = _valid_qr_token(tenant, raw, lock=True)
    token.used_at = timezone.now()
    token.save(update_fields=["used_at"])
    return token.user


@dataclass(frozen=True)
class OpenedSession:
    session: AppSession
    raw: str


def open_app_session(tenant, user, platform: str, os_version: str, registration) -> OpenedSession:
    raw = "app_" + secrets.token_urlsafe(32)
    session = AppSession.objects.create(tenant=tenant, user=user, token_hash=_hash(raw),
                                        platform=platform, os_version=os_version[:32],
                                        registration=registration)
    return OpenedSession(session, raw)


def app_session_for(raw: str) -> AppSession | None:
    session = (AppSession.objects.select_related("user", "tenant", "registration")
               .filter(token_hash=_hash(raw or ""), revoked_at__isnull=True).first())
    if session is None or not session.user.is_active or not session.tenant.is_active:
        return None
    return session
