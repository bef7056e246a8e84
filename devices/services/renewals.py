"""Identity renewal, the sending side: find the Apple devices whose MDM identity is due and
send each an ``InstallProfile`` carrying a fresh re-enrollment profile (issue 16).

The profile keeps the enrollment's payload identifier and topic, so installing it renews the
identity in place (the device keeps its enrollment, user channel and managed profiles); its
SCEP payload carries a one-time challenge of a *renewal registration* of that device, bound
to the common name naming the device. ``renewal_outcomes`` says how an attempt ends.

Batches cost a constant number of queries whatever their size (tests assert it): devices,
channels and last attempts are read once; challenges, registrations, commands, renewals and
audit events are written in one INSERT each.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from audit.events import AuditAction
from audit.record import actor_fields, record_many
from core.locks import session_lock
from devices.apple import messages as msg
from devices.apple.commands import json_safe
from devices.filtersets import identity_expiry_filter
from devices.models import (
    AppleChannel,
    Command,
    Device,
    DeviceState,
    IdentityRenewal,
    RenewalReason,
    RenewalState,
)
from devices.push.service import push_after_commit
from devices.services.renewal_outcomes import (
    attempt_window,
    expire_overdue_renewals,
    revoke_superseded,
)
from enrollment.apple.profile import (
    ProfileNotConfigured,
    profile_frame,
    renewal_subject,
)
from enrollment.services.registrations import RenewalRequest, start_renewal_registrations
from enrollment.services.renewal_policy import renewal_policy, renewal_window
from tenants.models import Tenant

APPLE_PLATFORMS = ("ios", "macos")
RATE_WINDOW = dt.timedelta(minutes=1)

NOT_APPLE = "only Apple devices have an MDM identity to renew"
NOT_MANAGED = "the device is not managed"
NO_IDENTITY = "the device has no MDM identity yet"
NO_OWNER = "the device has no owner to renew it for"
PENDING = "a renewal is already waiting for the device"
NOT_CONFIGURED = {"no_push_topic": "the APNs topic is not set (Settings > Apple MDM)",
                  "no_ca": "the organization has no certificate authority"}


@dataclass
class RenewalBatch:
    queued: list[IdentityRenewal] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # device id -> why not
    deferred: list[int] = field(default_factory=list)  # requested; sent by the next scans


def due_devices(tenant, *, now: dt.datetime, limit: int) -> list[int]:
    """Ids of managed Apple devices whose identity expires within the policy's window, or
    whose renewal an admin requested, and that wait for no attempt; requests first, then the
    soonest to expire."""
    if limit <= 0:
        return []
    horizon = now + renewal_window(renewal_policy(tenant))
    return list(
        Device.objects.for_tenant(tenant)
        .filter(state=DeviceState.ACTIVE, platform__in=APPLE_PLATFORMS)
        .filter(Q(identity_expires_at__lte=horizon) | Q(renewal_requested_at__isnull=False))
        .filter(Q(renewal_retry_at__isnull=True) | Q(renewal_retry_at__lte=now))
        .order_by(F("renewal_requested_at").asc(nulls_last=True), "identity_expires_at", "id")
        .values_list("pk", flat=True)[:limit])


def budget(tenant, *, now: dt.datetime) -> int:
    """How many more renewals the tenant's per-minute limit allows right now: those sent in
    the last 60 seconds count (stamped with their scan's start, so the beat's next run, a
    minute on, has the whole budget again)."""
    sent = IdentityRenewal.objects.for_tenant(tenant).filter(
        created_at__gt=now - RATE_WINDOW).count()
    return max(0, renewal_policy(tenant).max_per_minute - sent)


def scan_tenant(tenant, *, now: dt.datetime | None = None) -> dict:
    """One beat of the renewal scan for one tenant: end overdue attempts, revoke identities
    whose grace period ended, then send renewals to the devices due, within the per-minute
    limit. Skipped while another scan of the tenant runs."""
    now = now or timezone.now()
    with session_lock(f"identity-renewal-scan:{tenant.pk}") as acquired:
        if not acquired:
            return {"skipped": "running"}
        expired = expire_overdue_renewals(tenant, now)
        revoked = revoke_superseded(tenant, now)
        ids = due_devices(tenant, now=now, limit=budget(tenant, now=now))
        reasons = dict(Device.objects.filter(pk__in=ids).values_list(
            "pk", "renewal_requested_at")) if ids else {}
        batch = RenewalBatch()
        requested = [pk for pk in ids if reasons.get(pk)]
        for chosen, reason in ((requested, RenewalReason.REQUESTED),
                               ([pk for pk in ids if not reasons.get(pk)],
                                RenewalReason.EXPIRING)):
            if chosen:
                part = do_queue_renewals(tenant, chosen, reason=reason, actor="system",
                                         now=now)
                batch.queued += part.queued
                batch.skipped.update(part.skipped)
        if batch.skipped:  # nothing to send them: forget the request, look again tomorrow
            Device.objects.filter(pk__in=list(batch.skipped)).update(
                renewal_requested_at=None, renewal_retry_at=now + dt.timedelta(days=1))
    return {"expired": expired, "revoked": revoked, "queued": len(batch.queued),
            "skipped": len(batch.skipped)}


def scan_all(*, now: dt.datetime | None = None) -> dict:
    """The beat task's body: every active tenant, one after the other."""
    totals = {"tenants": 0, "expired": 0, "revoked": 0, "queued": 0, "skipped": 0}
    for tenant in Tenant.objects.filter(is_active=True).order_by("pk"):
        outcome = scan_tenant(tenant, now=now)
        totals["tenants"] += 1
        for key in ("expired", "revoked", "queued", "skipped"):
            totals[key] += outcome.get(key, 0) if isinstance(outcome.get(key), int) else 0
    return totals


def do_request_renewal(tenant, device_ids: list[int], *, actor, origin=None) -> RenewalBatch:
    """"Renew now", for one device or many: as many as the per-minute limit allows are sent
    their renewal at once; the rest are marked requested and go with the next scans (first in
    line). ``skipped`` says why a device cannot renew; ``deferred`` lists those that wait."""
    now = timezone.now()
    expire_overdue_renewals(tenant, now)
    batch = RenewalBatch()
    devices = list(Device.objects.for_tenant(tenant).filter(pk__in=device_ids)
                   .values_list("pk", "platform", "state"))
    wanted = []
    for pk, platform, state in devices:
        if platform not in APPLE_PLATFORMS:
            batch.skipped[pk] = NOT_APPLE
        elif state != DeviceState.ACTIVE:
            batch.skipped[pk] = NOT_MANAGED
        else:
            wanted.append(pk)
    sent = do_queue_renewals(tenant, wanted, reason=RenewalReason.REQUESTED, actor=actor,
                             origin=origin, now=now, limit=budget(tenant, now=now))
    batch.queued, batch.deferred = sent.queued, sent.deferred
    batch.skipped.update(sent.skipped)
    Device.objects.filter(pk__in=batch.deferred).update(renewal_requested_at=now,
                                                        renewal_retry_at=None)
    return batch


def do_queue_renewals(tenant, device_ids: list[int], *, reason: str, actor, origin=None,
                      now: dt.datetime | None = None, limit: int | None = None) -> RenewalBatch:
    """Send a re-enrollment profile to each of these devices of ``tenant`` that can take one
    (managed, Apple, bound identity, an owner, no attempt waiting); the others are skipped
    with the reason. With ``limit``, only that many are sent and the other devices that could
    take one are ``deferred`` (a device that cannot never uses up the limit). One
    transaction; a constant number of queries."""
    now = now or timezone.now()
    batch = RenewalBatch()
    with transaction.atomic():
        devices = list(Device.objects.for_tenant(tenant).filter(pk__in=device_ids)
                       .select_for_update(of=("self",))
                       .values_list("pk", "platform", "state", "owner_id"))
        channels = {device: (pk, certificate) for device, pk, certificate in
                    AppleChannel.objects.filter(device_id__in=[d[0] for d in devices],
                                                is_user_channel=False)
                    .values_list("device_id", "pk", "certificate_id")}
        last = _last_attempts([d[0] for d in devices])
        wanted = []
        for pk, platform, state, owner_id in devices:
            channel_pk, certificate_id = channels.get(pk, (None, None))
            why = (NOT_APPLE if platform not in APPLE_PLATFORMS else
                   NOT_MANAGED if state != DeviceState.ACTIVE else
                   NO_IDENTITY if certificate_id is None else
                   NO_OWNER if owner_id is None else
                   PENDING if last.get(pk, ("", 0))[0] == RenewalState.PENDING else None)
            if why:
                batch.skipped[pk] = why
            else:
                wanted.append((pk, platform, owner_id, channel_pk, certificate_id))
        if limit is not None:
            wanted, batch.deferred = wanted[:limit], [w[0] for w in wanted[limit:]]
        if not wanted:
            return batch
        try:
            frame = profile_frame(tenant)
        except ProfileNotConfigured as exc:
            batch.skipped.update({w[0]: NOT_CONFIGURED[exc.reason] for w in wanted})
            return batch
        attempts = {pk: _next_attempt(last.get(pk)) for pk, *_ in wanted}
        subjects = {pk: renewal_subject(tenant, pk) for pk, *_ in wanted}
        started = start_renewal_registrations(tenant, [
            RenewalRequest(pk, owner_id, platform, dict(subjects[pk])["CN"],
                           now + attempt_window(attempts[pk]))
            for pk, platform, owner_id, _, _ in wanted], actor=actor, origin=origin)
        label = actor_fields(actor)["actor_label"][:200]
        commands = []
        for (pk, platform, _, channel_pk, _), (_registration, minted) in zip(
                wanted, started, strict=True):
            profile = frame.render(platform, subjects[pk], minted.raw)
            command_uuid = str(uuid.uuid4()).upper()
            commands.append(Command(
                tenant=tenant, device_id=pk, channel_id=channel_pk, command_uuid=command_uuid,
                request_type="InstallProfile", created_by_label=label,
                payload=json_safe({"Payload": profile, "renewal": True}, elide_data=True),
                command_plist=msg.install_profile_command(command_uuid, profile)))
        Command.objects.bulk_create(commands)
        batch.queued = IdentityRenewal.objects.bulk_create([
            IdentityRenewal(tenant=tenant, device_id=pk, reason=reason,
                            attempt=attempts[pk], previous_certificate_id=certificate_id,
                            registration=registration, command=command,
                            requested_by_label=label, created_at=now,
                            expires_at=registration.expires_at)
            for (pk, _, _, _, certificate_id), (registration, _), command
            in zip(wanted, started, commands, strict=True)])
        Device.objects.bulk_update([
            Device(pk=renewal.device_id, renewal_retry_at=renewal.expires_at,
                   renewal_requested_at=None) for renewal in batch.queued],
            ["renewal_retry_at", "renewal_requested_at"])
        record_many(tenant, AuditAction.IDENTITY_RENEWAL_QUEUED, batch.queued, actor=actor,
                    origin=origin, device_of=lambda r: r.device_id,
                    detail_of=lambda r: {"renewal_id": r.pk, "attempt": r.attempt,
                                         "reason": r.reason,
                                         "registration_id": r.registration_id,
                                         "command_uuid": r.command.command_uuid,
                                         "until": r.expires_at.isoformat()})
        push_after_commit([w[3] for w in wanted])
    return batch


@dataclass(frozen=True)
class IdentitySummary:
    """The dashboard's identity figures: managed Apple devices whose identity has expired or
    expires within 30, 60, 90 days; attempts waiting for their device; attempts that failed
    in the last 7 days."""

    expired: int
    within_30: int
    within_60: int
    within_90: int
    renewing: int
    failed_recently: int


def identity_summary(tenant, *, now: dt.datetime | None = None) -> IdentitySummary:
    """Two queries: one pass over the tenant's Apple devices (index on identity expiry), one
    over its recent renewals."""
    now = now or timezone.now()
    figures = (Device.objects.for_tenant(tenant)
               .filter(platform__in=APPLE_PLATFORMS, state=DeviceState.ACTIVE,
                       identity_expires_at__lte=now + dt.timedelta(days=90))
               .aggregate(**{name: Count("pk", filter=identity_expiry_filter(value, now))
                             for name, value in (("expired", "expired"), ("within_30", "30"),
                                                 ("within_60", "60"), ("within_90", "90"))}))
    attempts = (IdentityRenewal.objects.for_tenant(tenant)
                .filter(Q(state=RenewalState.PENDING)
                        | Q(state=RenewalState.FAILED, ended_at__gt=now - dt.timedelta(days=7)))
                .aggregate(renewing=Count("pk", filter=Q(state=RenewalState.PENDING)),
                           failed_recently=Count("pk", filter=Q(state=RenewalState.FAILED))))
    return IdentitySummary(**figures, **attempts)


def _last_attempts(device_ids: list[int]) -> dict[int, tuple[str, int]]:
    """Each device's latest renewal attempt: (state, attempt number)."""
    latest: dict[int, tuple[str, int]] = {}
    for device_id, state, attempt in (IdentityRenewal.objects.filter(device_id__in=device_ids)
                                      .order_by("device_id", "-created_at", "-id")
                                      .values_list("device_id", "state", "attempt")):
        latest.setdefault(device_id, (state, attempt))
    return latest


def _next_attempt(last: tuple[str, int] | None) -> int:
    """Attempts count up while they fail and start again at 1 after a success."""
    if last is None or last[0] != RenewalState.FAILED:
        return 1
    return last[1] + 1
