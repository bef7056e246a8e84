"""`record(...)`: the one way to write an audit event, inside the change's transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from audit.events import AuditAction
from audit.models import AuditEvent
from core.origin import Origin

# Who acted: an object with ``audit_actor() -> (user or None, label)`` (users.User,
# users.ApiToken), a str label ("system", "device:<udid>") or None.
Actor = Any
# Where from: ``origin``, the Origin a view built from its request (core.origin), or None for
# what the system does on its own. The event stores its address.


def actor_fields(actor: Actor) -> dict:
    """The acting user (or None) and the label events show for ``actor``: also what other
    records (an invitation's sender, a command's creator) store about who acted."""
    describe = getattr(actor, "audit_actor", None)
    if describe is not None:
        user, label = describe()
        return {"actor": user, "actor_label": label}
    return {"actor": None, "actor_label": str(actor or "system")}


def _target_fields(target: models.Model | None) -> dict:
    if target is None:
        return {}
    return {"target_type": target._meta.label_lower, "target_id": str(target.pk),
            "target_label": str(target)[:200]}


def record(tenant, action: AuditAction, **fields) -> AuditEvent:
    """Write one audit event (``fields``: the keywords of :func:`event`). Call it inside the
    transaction of the change it records, so the event exists exactly when the change does."""
    written = event(tenant, action, **fields)
    written.save(force_insert=True)
    return written


def event(
    tenant,
    action: AuditAction,
    *,
    actor: Actor = None,
    target: models.Model | None = None,
    user=None,
    device=None,
    detail: dict | None = None,
    origin: Origin | None = None,
) -> AuditEvent:
    """The event ``record`` writes, unsaved: for a caller that inserts it in one statement
    with the change it records (same transaction, same rule)."""
    return AuditEvent(
        tenant=tenant,
        action=action,
        user=user,
        device=device,
        detail=detail or {},
        source_ip=origin.address if origin else None,
        **actor_fields(actor),
        **_target_fields(target),
    )


def record_many(tenant, action: AuditAction, targets: list[models.Model], *, actor: Actor = None,
                user_of=None, detail_of=None, device_of=None,
                origin: Origin | None = None) -> None:
    """One event per target in one INSERT (bulk work must not write audit rows one by one).
    `user_of(target)` / `detail_of(target)` / `device_of(target)` give each event's user,
    detail and device: a model instance, or its primary key (no query to load it)."""
    actor_fields_, ip = actor_fields(actor), origin.address if origin else None
    AuditEvent.objects.bulk_create([
        AuditEvent(tenant=tenant, action=action, source_ip=ip,
                   user_id=_pk(user_of(target)) if user_of else None,
                   device_id=_pk(device_of(target)) if device_of else None,
                   detail=detail_of(target) if detail_of else {},
                   **actor_fields_, **_target_fields(target))
        for target in targets
    ], batch_size=1000)


def _pk(value) -> int | None:
    return value if value is None or isinstance(value, int) else value.pk
