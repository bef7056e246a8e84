"""`record(...)`: the one way to write an audit event, inside the change's transaction."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from .events import AuditAction
from .models import AuditEvent

Actor = Any  # a users.User, a users.ApiToken, a str label ("system", "device:<udid>") or None


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's address. REMOTE_ADDR only: behind a proxy, set it from the proxy's header
    in the WSGI server (gunicorn --forwarded-allow-ips) rather than trusting any header here."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _actor_fields(actor: Actor) -> dict:
    from users.models import ApiToken, User

    if isinstance(actor, User):
        return {"actor": actor, "actor_label": actor.email}
    if isinstance(actor, ApiToken):
        return {"actor": actor.created_by, "actor_label": f"api-token:{actor.name}"}
    return {"actor": None, "actor_label": str(actor or "system")}


def record(
    tenant,
    action: AuditAction,
    *,
    actor: Actor = None,
    target: models.Model | None = None,
    user=None,
    device=None,
    detail: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the transaction of the change it records, so the
    event exists exactly when the change does."""
    target_fields = {}
    if target is not None:
        target_fields = {
            "target_type": target._meta.label_lower,
            "target_id": str(target.pk),
            "target_label": str(target)[:200],
        }
    return AuditEvent.objects.create(
        tenant=tenant,
        action=action,
        user=user,
        device=device,
        detail=detail or {},
        source_ip=client_ip(request),
        **_actor_fields(actor),
        **target_fields,
    )
