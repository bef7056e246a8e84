"""The pusher: push by Apple channel or device id (MDM, after a command is queued) and to a
user's agent app (APNs token auth or FCM), in batches, recording every attempt.

NanoMDM's three layers: this pusher by id, a client per topic (`apns.ApnsClient`), and the
factory from the stored certificate (`credentials.mdm_client`). Partial failure is data
(`PushOutcome`): dead tokens are recorded as `InvalidPushToken` (the device page flags them,
pushes to them stop until the device sends a new token); throttled / unavailable ones come back
in `retry_channel_ids` for the task to try again later.

Each batch runs a constant number of queries whatever its size (see tests/devices/push).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from core import jobs
from devices.models import (
    ApnsCertificate,
    AppleChannel,
    AppPushCredentials,
    InvalidPushToken,
    PushAttempt,
    PushKind,
    PushResult,
)
from devices.models.push import DEAD_TOKEN_RESULTS, RETRY_RESULTS
from devices.push import apns, credentials, fcm

logger = logging.getLogger(__name__)


def token_digest(token: bytes | memoryview | str) -> str:
    raw = token.encode() if isinstance(token, str) else bytes(token)
    return hashlib.sha256(raw).hexdigest()


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class PushOutcome:
    sent: int = 0
    invalid: int = 0        # dead tokens found now
    skipped: int = 0        # known-invalid token, no certificate, no credentials
    failed: int = 0         # other refusals (403 bad certificate, 400 bad payload...)
    retry_channel_ids: list[int] = field(default_factory=list)

    def add(self, result: str) -> None:
        if result == PushResult.SENT:
            self.sent += 1
        elif result in DEAD_TOKEN_RESULTS:
            self.invalid += 1
        elif result in (PushResult.TOKEN_INVALID, PushResult.NO_CREDENTIALS):
            self.skipped += 1
        elif result not in RETRY_RESULTS:
            self.failed += 1

    def as_dict(self) -> dict:
        return {"sent": self.sent, "invalid": self.invalid, "skipped": self.skipped,
                "failed": self.failed, "retry": len(self.retry_channel_ids)}


# --- MDM pushes ------------------------------------------------------------------------------

def push_devices(device_ids: Iterable[int], *, reason: str = "manual") -> PushOutcome:
    """Push the device channel of each device."""
    channel_ids = list(AppleChannel.objects.filter(device_id__in=list(device_ids),
                                                   is_user_channel=False)
                       .values_list("pk", flat=True))
    return push_channels(channel_ids, reason=reason)


def push_channels(channel_ids: Iterable[int], *, reason: str = "command") -> PushOutcome:
    """Send `{"mdm": PushMagic}` to each enabled channel with a push token, in batches of
    MDM_PUSH_BATCH_SIZE; record one PushAttempt per channel."""
    outcome = PushOutcome()
    for batch in chunks(sorted(set(channel_ids)), settings.MDM_PUSH_BATCH_SIZE):
        _push_channel_batch(batch, reason, outcome)
    return outcome


def _push_channel_batch(ids: Sequence[int], reason: str, outcome: PushOutcome) -> None:
    channels = list(AppleChannel.objects.filter(pk__in=ids, enabled=True)
                    .exclude(push_token=None).exclude(push_magic="")
                    .only("pk", "tenant_id", "device_id", "push_token", "push_magic", "topic"))
    if not channels:
        return
    digests = {channel.pk: token_digest(channel.push_token) for channel in channels}
    known_invalid = set(InvalidPushToken.objects.filter(token_digest__in=digests.values())
                        .values_list("tenant_id", "token_digest"))
    certificates = {c.tenant_id: c for c in ApnsCertificate.objects.filter(
        tenant_id__in={channel.tenant_id for channel in channels})}
    now = timezone.now()
    attempts: list[PushAttempt] = []
    by_certificate: dict[int, list[AppleChannel]] = defaultdict(list)

    def attempt(channel: AppleChannel, result: str, **extra) -> None:
        outcome.add(result)
        attempts.append(PushAttempt(tenant_id=channel.tenant_id, device_id=channel.device_id,
                                    channel_id=channel.pk, kind=PushKind.MDM, reason=reason,
                                    result=result, created_at=now, **extra))

    for channel in channels:
        certificate = certificates.get(channel.tenant_id)
        if (channel.tenant_id, digests[channel.pk]) in known_invalid:
            attempt(channel, PushResult.TOKEN_INVALID)
        elif certificate is None or certificate.is_expired:
            attempt(channel, PushResult.NO_CREDENTIALS,
                    error="no APNs certificate" if certificate is None else "certificate expired")
        else:
            by_certificate[certificate.tenant_id].append(channel)

    dead: list[tuple[AppleChannel, str]] = []
    for tenant_id, group in by_certificate.items():
        certificate = certificates[tenant_id]
        client = credentials.mdm_client(certificate)
        answers = client.send_many(
            apns.mdm_notification(bytes(c.push_token), c.push_magic, certificate.topic)
            for c in group)
        for channel, answer in zip(group, answers, strict=True):
            result = answer.result
            attempt(channel, result, status_code=answer.status, error=answer.reason[:200],
                    message_id=answer.apns_id[:200], tries=answer.tries)
            if result in DEAD_TOKEN_RESULTS:
                dead.append((channel, result))
            elif result in RETRY_RESULTS:
                outcome.retry_channel_ids.append(channel.pk)

    with transaction.atomic():
        PushAttempt.objects.bulk_create(attempts)
        if dead:
            _flag_dead_tokens([
                (c.tenant_id, c.device_id, digests[c.pk], PushKind.MDM, result)
                for c, result in dead])


def _flag_dead_tokens(rows: list[tuple[int, int | None, str, str, str]]) -> None:
    """Record dead tokens (pushes to them stop) and audit each flagged device: 2 queries."""
    InvalidPushToken.objects.bulk_create([
        InvalidPushToken(tenant_id=tenant_id, device_id=device_id, token_digest=digest,
                         kind=kind, result=result)
        for tenant_id, device_id, digest, kind, result in rows], ignore_conflicts=True)
    AuditEvent.objects.bulk_create([
        AuditEvent(tenant_id=tenant_id, device_id=device_id, action=AuditAction.PUSH_TOKEN_INVALID,
                   actor_label="system:push", target_type="devices.device" if device_id else "",
                   target_id=str(device_id or ""), detail={"kind": kind, "result": result})
        for tenant_id, device_id, _digest, kind, result in rows])


# --- app pushes (reminders) ------------------------------------------------------------------

@dataclass(frozen=True)
class AppPush:
    """One alert to one app session (which holds the token and the service)."""

    session: object  # enrollment.models.AppSession
    title: str
    body: str
    data: dict = field(default_factory=dict)
    registration_id: int | None = None


def push_apps(pushes: Sequence[AppPush], *, reason: str = "reminder") -> dict[int, str]:
    """Send each push through its session's service; returns {session id: PushResult}.
    Queries: credentials (1), known-invalid tokens (1), attempts (1), dead tokens (2 if any)."""
    if not pushes:
        return {}
    tenant_ids = {p.session.tenant_id for p in pushes}
    creds = {c.tenant_id: c for c in AppPushCredentials.objects.filter(tenant_id__in=tenant_ids)}
    digests = {p.session.pk: token_digest(p.session.push_token) for p in pushes}
    known_invalid = set(InvalidPushToken.objects.filter(token_digest__in=digests.values())
                        .values_list("tenant_id", "token_digest"))
    now = timezone.now()
    results: dict[int, str] = {}
    attempts: list[PushAttempt] = []
    dead = []
    groups: dict[tuple, list[AppPush]] = defaultdict(list)
    for push in pushes:
        session = push.session
        cred = creds.get(session.tenant_id)
        kind = PushKind.FCM if session.push_service == "fcm" else PushKind.APP_APNS
        usable = cred is not None and (cred.has_fcm if kind == PushKind.FCM else cred.has_apns)
        if (session.tenant_id, digests[session.pk]) in known_invalid:
            results[session.pk] = PushResult.TOKEN_INVALID
        elif not usable:
            results[session.pk] = PushResult.NO_CREDENTIALS
        else:
            groups[(session.tenant_id, kind)].append(push)
            continue
        attempts.append(PushAttempt(tenant_id=session.tenant_id, app_session_id=session.pk,
                                    registration_id=push.registration_id, kind=kind,
                                    reason=reason, result=results[session.pk], created_at=now))

    for (tenant_id, kind), group in groups.items():
        cred = creds[tenant_id]
        answers = _send_app_group(cred, kind, group)
        for push, (result, status, error, message_id, tries) in zip(group, answers, strict=True):
            session = push.session
            results[session.pk] = result
            attempts.append(PushAttempt(
                tenant_id=tenant_id, app_session_id=session.pk,
                registration_id=push.registration_id, kind=kind, reason=reason, result=result,
                status_code=status, error=error[:200], message_id=message_id[:200],
                tries=tries, created_at=now))
            if result in DEAD_TOKEN_RESULTS:
                dead.append((tenant_id, None, digests[session.pk], kind, result))
    with transaction.atomic():
        PushAttempt.objects.bulk_create(attempts)
        if dead:
            _flag_dead_tokens(dead)
    return results


def _send_app_group(cred: AppPushCredentials, kind: str, group: list[AppPush]) -> list[tuple]:
    try:
        if kind == PushKind.FCM:
            client = credentials.fcm_client(cred)
            answers = client.send_many(fcm.FcmMessage(p.session.push_token, p.title, p.body,
                                                      {k: str(v) for k, v in p.data.items()})
                                       for p in group)
            return [(a.result, a.status, a.error_code, a.message_id, a.tries) for a in answers]
        client = credentials.app_apns_client(cred)
        answers = client.send_many(apns.alert_notification(p.session.push_token,
                                                           cred.apns_bundle_id, title=p.title,
                                                           body=p.body, data=p.data)
                                   for p in group)
        return [(a.result, a.status, a.reason, a.apns_id, a.tries) for a in answers]
    except (ValueError, apns.ApnsCertificateError, fcm.FcmCredentialsError) as exc:
        logger.warning("app push credentials of tenant %s unusable: %s", cred.tenant_id, exc)
        return [(PushResult.FAILED, None, str(exc), "", 0) for _ in group]


# --- after a command is queued ---------------------------------------------------------------

class _PendingPushes:
    def __init__(self, connection):
        self.ids: set[int] = set()
        self.connection = connection

    def flush(self) -> None:
        if self.connection.__dict__.get(_PENDING_KEY) is self:
            del self.connection.__dict__[_PENDING_KEY]
        queue_push(self.ids)


_PENDING_KEY = "_mdm_pushes_after_commit"


def push_after_commit(channel_ids: Iterable[int]) -> None:
    """Queue an MDM push for these channels once the current transaction commits: every
    command queued in one transaction becomes one push task (one batch)."""
    connection = transaction.get_connection()
    pending = connection.__dict__.get(_PENDING_KEY)
    registered = pending is not None and any(
        getattr(entry[1], "__self__", None) is pending for entry in connection.run_on_commit)
    if not registered:  # first in this transaction (or the last one rolled back)
        pending = connection.__dict__[_PENDING_KEY] = _PendingPushes(connection)
        pending.ids.update(channel_ids)
        transaction.on_commit(pending.flush)
        return
    pending.ids.update(channel_ids)


def queue_push(channel_ids: Iterable[int], *, reason: str = "command") -> bool:
    """Queue the push task, unless no tenant of these channels has a certificate (then no
    broker traffic at all). A broker outage is logged, never raised into the request."""
    ids = sorted(set(channel_ids))
    if not ids:
        return False
    if not ApnsCertificate.objects.filter(
            tenant_id__in=AppleChannel.objects.filter(pk__in=ids).values("tenant_id")).exists():
        return False
    try:
        jobs.send("devices.push_channels", *((ids,) if reason == "command" else (ids, reason)),
                  retry=False)
    except Exception:  # kombu raises many kinds; the command stays queued for the next poll
        logger.exception("could not queue the MDM push for channels %s", ids[:20])
        return False
    return True


# --- retention -------------------------------------------------------------------------------

def purge_push_attempts(*, older_than_days: int, batch_size: int = 5000) -> int:
    """Delete push attempts older than the retention, in batches (2 queries each). The last
    attempt of each device is what the device page shows; a month of history is plenty."""
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    total = 0
    while True:
        ids = list(PushAttempt.objects.filter(created_at__lt=cutoff).order_by("pk")
                   .values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        total += PushAttempt.objects.filter(pk__in=ids).delete()[0]
