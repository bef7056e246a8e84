"""Binding a tenant to an Android Enterprise (SPEC R6): settings, the managed Google Play
sign-up (signupUrls.create with an https callback carrying a one-time state; the callback
checks the state and calls enterprises.create once), unbinding, and the configuration the
server keeps on the enterprise (Pub/Sub topic, notification types, policies).

Google is called outside database transactions; every state change is a `do_*` function,
audited in its transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core.encryption import encrypt
from enrollment.android.amapi import (
    AmapiError,
    AmapiNotConfigured,
    AmapiNotFound,
    client_for,
    credentials_from_info,
)
from enrollment.android.policies import (
    COMPANY_POLICY_ID,
    DEFAULT_POLICY_ID,
    policies_for,
    policy_name,
)
from enrollment.models import AndroidEnrollmentToken, AndroidEnterprise
from enrollment.models.android import PUSH_TOKEN_PURPOSE

NOTIFICATION_TYPES = ["ENROLLMENT", "STATUS_REPORT", "COMMAND"]
SIGNUP_STATE_TTL = dt.timedelta(hours=1)


class AndroidSetupError(Exception):
    """A user-facing reason the binding step cannot go on (bad state, not configured...)."""


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def enterprise_for(tenant) -> AndroidEnterprise | None:
    return AndroidEnterprise.objects.for_tenant(tenant).first()


def bound_enterprise_for(tenant) -> AndroidEnterprise | None:
    enterprise = enterprise_for(tenant)
    return enterprise if enterprise is not None and enterprise.is_bound else None


def _new_enterprise(tenant) -> AndroidEnterprise:
    push_token = secrets.token_urlsafe(32)
    return AndroidEnterprise.objects.create(
        tenant=tenant, push_endpoint_id=secrets.token_hex(12), push_token_hash=_hash(push_token),
        push_token_encrypted=encrypt(push_token.encode(), PUSH_TOKEN_PURPOSE))


def parse_service_account(raw: str) -> dict:
    """The uploaded key file, checked enough to give a clear error before Google sees it."""
    try:
        info = json.loads(raw)
    except ValueError:
        raise AndroidSetupError("The service-account key is not valid JSON.") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise AndroidSetupError('The key must be a service-account key ("type": '
                                '"service_account").')
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise AndroidSetupError(f"The service-account key lacks {', '.join(missing)}.")
    if "\x00" in str(info["client_email"]):  # kept in a text column, which refuses NUL
        raise AndroidSetupError("The service-account key's client_email is not valid.")
    try:  # a garbled private key must be refused here, not stored and then fail every call
        credentials_from_info(info)
    except AmapiNotConfigured as exc:
        raise AndroidSetupError(str(exc)[:300]) from None
    return info


@transaction.atomic
def do_save_android_settings(tenant, *, actor, origin=None, project_id: str,
                             service_account: dict | None = None, pubsub_topic: str = "",
                             default_ownership: str | None = None,
                             agent_app_package: str = "") -> AndroidEnterprise:
    enterprise = (AndroidEnterprise.objects.for_tenant(tenant).select_for_update().first()
                  or _new_enterprise(tenant))
    enterprise.project_id = project_id.strip()
    if service_account is not None:
        enterprise.set_service_account_info(service_account)
    enterprise.pubsub_topic = pubsub_topic.strip()
    enterprise.agent_app_package = agent_app_package.strip()
    if default_ownership:
        enterprise.default_ownership = default_ownership
    enterprise.save()
    record(tenant, AuditAction.ANDROID_SETTINGS_SAVED, actor=actor, target=enterprise,
           origin=origin, detail={"project_id": enterprise.project_id,
                                  "service_account": enterprise.service_account_email,
                                  "service_account_replaced": service_account is not None,
                                  "pubsub_topic": enterprise.pubsub_topic})
    return enterprise


def callback_url(tenant, state: str) -> str:
    path = reverse("portal:android-callback", kwargs={"tenant_slug": tenant.slug})
    return f"{settings.MDM_PUBLIC_URL}{path}?{urlencode({'state': state})}"


def start_signup(tenant, *, actor, origin=None, admin_email: str | None = None) -> str:
    """Ask Google for a sign-up URL whose callback carries a fresh one-time state; returns the
    URL to send the admin to."""
    enterprise = enterprise_for(tenant)
    if enterprise is None or not enterprise.service_account_encrypted or \
            not enterprise.project_id:
        raise AndroidSetupError("Save the Google Cloud project id and service-account key "
                                "first.")
    if enterprise.is_bound:
        raise AndroidSetupError(f"Already bound to {enterprise.enterprise_name}; unbind first.")
    if urlsplit(settings.MDM_PUBLIC_URL).scheme != "https":
        raise AndroidSetupError("Google only calls back https URLs: set MDM_PUBLIC_URL to the "
                                "server's https address.")
    state = secrets.token_urlsafe(32)
    signup = client_for(enterprise).create_signup_url(
        enterprise.project_id, callback_url(tenant, state), admin_email=admin_email)
    with transaction.atomic():
        locked = AndroidEnterprise.objects.select_for_update().get(pk=enterprise.pk)
        locked.signup_url_name, locked.signup_state_hash = signup.name, _hash(state)
        locked.signup_started_at, locked.last_error = timezone.now(), ""
        locked.save(update_fields=["signup_url_name", "signup_state_hash", "signup_started_at",
                                   "last_error", "updated_at"])
        record(tenant, AuditAction.ANDROID_SIGNUP_STARTED, actor=actor, target=locked,
               origin=origin, detail={"signup_url_name": signup.name})
    return signup.url


def _refuse_signup(tenant, enterprise, reason: str, message: str, *, actor, origin):
    with transaction.atomic():
        record(tenant, AuditAction.ANDROID_SIGNUP_REJECTED, actor=actor, target=enterprise,
               origin=origin, detail={"reason": reason})
    raise AndroidSetupError(message)


def complete_signup(tenant, *, state: str | None, enterprise_token: str | None, actor,
                    origin=None) -> AndroidEnterprise:
    """Google's callback: check the one-time state, then create the enterprise once.

    A repeated callback with the state that already bound the enterprise answers with the
    bound enterprise (idempotent); any other state is refused with a clear message."""
    enterprise = enterprise_for(tenant)
    if enterprise is None:
        raise AndroidSetupError("Android Enterprise is not set up for this organization.")
    given = _hash(state) if state else ""
    expected = enterprise.signup_state_hash
    if not state or not expected or not hmac.compare_digest(given, expected):
        _refuse_signup(tenant, enterprise, "bad_state" if state else "missing_state",
                       "This sign-up link is not valid (its state is missing or does not match "
                       "the sign-up started here). Start the binding again from Settings > "
                       "Android.", actor=actor, origin=origin)
    if enterprise.is_bound:
        return enterprise  # the same callback again: already done
    if enterprise.signup_started_at and \
            timezone.now() - enterprise.signup_started_at > SIGNUP_STATE_TTL:
        _refuse_signup(tenant, enterprise, "expired_state", "This sign-up took too long and "
                       "expired. Start the binding again.", actor=actor, origin=origin)
    if not enterprise_token:
        _refuse_signup(tenant, enterprise, "missing_enterprise_token", "Google did not return "
                       "an enterprise token (was the sign-up cancelled?). Start again.",
                       actor=actor, origin=origin)
    body: dict = {"enabledNotificationTypes": NOTIFICATION_TYPES}
    if enterprise.pubsub_topic:
        body["pubsubTopic"] = enterprise.pubsub_topic
    created = client_for(enterprise).create_enterprise(
        enterprise.project_id, enterprise.signup_url_name, enterprise_token, body)
    with transaction.atomic():
        locked = AndroidEnterprise.objects.select_for_update().get(pk=enterprise.pk)
        if locked.is_bound:  # a concurrent callback won the race
            return locked
        locked.enterprise_name = created["name"]
        locked.display_name = created.get("enterpriseDisplayName", "")[:200]
        locked.enabled_notification_types = created.get("enabledNotificationTypes",
                                                        NOTIFICATION_TYPES)
        locked.signup_url_name, locked.bound_at = "", timezone.now()
        locked.default_policy_name = policy_name(locked.enterprise_name, DEFAULT_POLICY_ID)
        locked.company_policy_name = policy_name(locked.enterprise_name, COMPANY_POLICY_ID)
        locked.save()
        record(tenant, AuditAction.ANDROID_ENTERPRISE_BOUND, actor=actor, target=locked,
               origin=origin, detail={"enterprise": locked.enterprise_name})
    apply_enterprise_configuration(locked, topic=False)
    return locked


def apply_enterprise_configuration(enterprise: AndroidEnterprise, *, topic: bool = True) -> str:
    """Push the policies (and the Pub/Sub topic and notification types) to Google. Returns
    the admin-facing error, also kept in `last_error`, or "" on success."""
    if not enterprise.is_bound:
        return ""
    error = ""
    try:
        client = client_for(enterprise)  # a key stored before today's checks: AmapiNotConfigured
        if topic:
            body = {"pubsubTopic": enterprise.pubsub_topic,
                    "enabledNotificationTypes": NOTIFICATION_TYPES}
            client.patch_enterprise(enterprise.enterprise_name, body,
                                    "pubsubTopic,enabledNotificationTypes")
        for name, policy in policies_for(enterprise.enterprise_name,
                                         agent_app_package=enterprise.agent_app_package).items():
            client.patch_policy(name, policy)
    except AmapiError as exc:
        error = exc.message[:500]
    AndroidEnterprise.objects.filter(pk=enterprise.pk).update(
        last_error=error, enabled_notification_types=NOTIFICATION_TYPES if topic and not error
        else enterprise.enabled_notification_types)
    enterprise.last_error = error
    return error


def unbind(tenant, *, actor, origin=None, delete_on_google: bool = True) -> str:
    """Forget the enterprise (and delete it on Google when asked). Open enrollment tokens stop
    working. Returns Google's error message when the delete failed ("" otherwise); the local
    binding is removed either way so the admin can bind again."""
    enterprise = bound_enterprise_for(tenant)
    if enterprise is None:
        raise AndroidSetupError("No Android Enterprise is bound.")
    error = ""
    if delete_on_google:
        try:
            client_for(enterprise).delete_enterprise(enterprise.enterprise_name)
        except AmapiNotFound:
            pass
        except AmapiError as exc:
            error = exc.message
    with transaction.atomic():
        locked = AndroidEnterprise.objects.select_for_update().get(pk=enterprise.pk)
        old_name = locked.enterprise_name
        now = timezone.now()
        AndroidEnrollmentToken.objects.filter(enterprise=locked, revoked_at__isnull=True) \
            .update(revoked_at=now, revoke_reason="unbound")
        locked.enterprise_name = locked.display_name = ""
        locked.default_policy_name = locked.company_policy_name = ""
        locked.signup_state_hash = locked.signup_url_name = ""
        locked.bound_at, locked.last_error = None, error[:500]
        locked.save()
        record(tenant, AuditAction.ANDROID_ENTERPRISE_UNBOUND, actor=actor, target=locked,
               origin=origin, detail={"enterprise": old_name, "google_error": error})
    return error
