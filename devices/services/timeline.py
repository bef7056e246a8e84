"""The device page's history: the device's registrations (each step's time, and why one
stopped, in the plain words of `enrollment.diagnostics`), its identity certificates, MDM
commands and Android operations with their results, pushes, and the audit events about it,
merged into one timeline, newest first and bounded.

Seven queries whatever the history's size: each source is read once, newest first, at most
`limit` rows, then merged in Python.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import (
    AndroidOperation,
    AndroidOperationStatus,
    Command,
    CommandStatus,
    Device,
    PushAttempt,
    PushResult,
)
from enrollment.diagnostics import Diagnosis, diagnose, latest_scep_rejections, steps
from enrollment.models import IssuedCertificate, Registration, RegistrationState

TIMELINE_LENGTH = 100
# Shown from their own rows (with the result), not again from the audit trail.
COVERED_AUDIT_ACTIONS = (AuditAction.COMMAND_QUEUED, AuditAction.ANDROID_COMMAND_ISSUED,
                         AuditAction.ANDROID_COMMAND_FINISHED)
ENDED_REGISTRATION_STATES = (RegistrationState.EXPIRED, RegistrationState.CANCELLED,
                             RegistrationState.FAILED, RegistrationState.SUPERSEDED)
FAILED_COMMAND_STATUSES = (CommandStatus.ERROR, CommandStatus.COMMAND_FORMAT_ERROR)
FAILED_OPERATION_STATUSES = (AndroidOperationStatus.FAILED, AndroidOperationStatus.EXPIRED)
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str          # registration, certificate, command, push, audit
    title: str
    detail: str = ""
    by: str = ""
    problem: bool = False


@dataclass(frozen=True)
class RegistrationHistory:
    registration: Registration
    steps: list[tuple[str, dt.datetime | None]]
    diagnosis: Diagnosis


@dataclass
class DeviceHistory:
    registrations: list[RegistrationHistory] = field(default_factory=list)
    certificates: list[IssuedCertificate] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)


def device_history(tenant, device: Device, *, limit: int = TIMELINE_LENGTH) -> DeviceHistory:
    registrations = list(
        Registration.objects.for_tenant(tenant)
        .filter(Q(device=device) | Q(challenge__certificate__device=device))
        .select_related("user").distinct().order_by("-created_at", "-id")[:limit])
    rejections = latest_scep_rejections(tenant, [r.pk for r in registrations])
    history = DeviceHistory(
        registrations=[RegistrationHistory(r, steps(r), diagnose(r, rejections.get(r.pk)))
                       for r in registrations],
        certificates=list(IssuedCertificate.objects.for_tenant(tenant).filter(device=device)
                          .order_by("-created_at")[:limit]),
        commands=list(Command.objects.for_tenant(tenant).filter(device=device)
                      .select_related("channel").order_by("-created_at", "-id")[:limit]),
    )
    operations = list(AndroidOperation.objects.for_tenant(tenant).filter(device=device)
                      .order_by("-created_at", "-id")[:limit])
    pushes = list(PushAttempt.objects.for_tenant(tenant).filter(device=device)
                  .order_by("-created_at", "-id")[:limit])
    events = list(AuditEvent.objects.for_tenant(tenant).filter(device=device)
                  .exclude(action__in=COVERED_AUDIT_ACTIONS).order_by("-created_at", "-id")
                  [:limit])
    entries = [
        *_registration_entries(history.registrations),
        *_certificate_entries(history.certificates),
        *_command_entries(history.commands),
        *_operation_entries(operations),
        *_push_entries(pushes),
        *_audit_entries(events),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    history.timeline = entries[:limit]
    return history


def _registration_entries(rows: list[RegistrationHistory]):
    for row in rows:
        r = row.registration
        name = f"Registration {r.pk}"
        for label, at in row.steps:
            if at is not None:
                yield TimelineEntry(at, "registration", f"{name}: {label.lower()}",
                                    f"{r.get_platform_display()}, {r.get_method_display()}, "
                                    f"user {r.user.email}" if label == "Started" else "")
        if r.state in ENDED_REGISTRATION_STATES:
            detail = " ".join(part for part in (row.diagnosis.summary, row.diagnosis.fix)
                              if part)
            yield TimelineEntry(r.ended_at or r.expires_at, "registration",
                                f"{name}: {r.get_state_display().lower()}", detail,
                                problem=r.state != RegistrationState.SUPERSEDED)


def _certificate_entries(certificates: list[IssuedCertificate]):
    for certificate in certificates:
        if certificate.renewed_from_id:
            yield TimelineEntry(certificate.created_at, "certificate",
                                "Identity certificate renewed", certificate.subject)
        if certificate.revoked_at:
            yield TimelineEntry(certificate.revoked_at, "certificate",
                                "Identity certificate revoked",
                                f"{certificate.subject} ({certificate.revocation_reason})",
                                problem=True)


def _command_entries(commands: list[Command]):
    for command in commands:
        channel = ("user " + command.channel.user_short_name
                   if command.channel.is_user_channel else "device channel")
        yield TimelineEntry(command.created_at, "command",
                            f"{command.request_type} queued", channel,
                            by=command.created_by_label)
        if command.completed_at:
            errors = "; ".join(
                f"{e.get('localized_description') or e.get('us_english_description') or ''} "
                f"({e.get('error_domain', '')} {e.get('error_code', '')})".strip()
                for e in command.error_chain or [] if isinstance(e, dict))
            yield TimelineEntry(command.completed_at, "command",
                                f"{command.request_type}: {command.get_status_display()}",
                                errors, problem=command.status in FAILED_COMMAND_STATUSES)


def _operation_entries(operations: list[AndroidOperation]):
    for operation in operations:
        yield TimelineEntry(operation.created_at, "command",
                            f"{operation.command_type} sent (Android)",
                            by=operation.created_by_label)
        if operation.completed_at:
            yield TimelineEntry(operation.completed_at, "command",
                                f"{operation.command_type}: {operation.get_status_display()}",
                                operation.error,
                                problem=operation.status in FAILED_OPERATION_STATUSES)


def _push_entries(pushes: list[PushAttempt]):
    for push in pushes:
        detail = " ".join(part for part in (
            f"HTTP {push.status_code}" if push.status_code else "", push.error) if part)
        yield TimelineEntry(push.created_at, "push",
                            f"Push ({push.get_kind_display()}, {push.reason}): "
                            f"{push.get_result_display()}", detail,
                            problem=push.result != PushResult.SENT)


def _readable(value):
    """An ISO date-time in an audit detail (``until``, ``expires_at``) reads as the page's
    other times do, to the minute; anything else as it is."""
    if isinstance(value, str) and ISO_DATETIME.match(value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return moment.strftime("%Y-%m-%d %H:%M")
    return value


def _audit_entries(events: list[AuditEvent]):
    for event in events:
        detail = ", ".join(f"{key}: {_readable(value)}"
                           for key, value in (event.detail or {}).items()
                           if value not in (None, "", [], {}))
        yield TimelineEntry(event.created_at, "audit", event.action_label, detail[:300],
                            by=event.actor_label,
                            problem=event.action.endswith(("rejected", "refused", "failed")))
