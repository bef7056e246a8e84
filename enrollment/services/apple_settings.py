"""The tenant's Apple MDM settings (push topic, enrollment profile signing)."""

from __future__ import annotations

from django.db import transaction

from audit.events import AuditAction
from audit.record import record
from enrollment.models import AppleMdmSettings


def apple_settings(tenant) -> AppleMdmSettings:
    """The tenant's settings, unsaved defaults when the admin never saved any."""
    found = AppleMdmSettings.objects.for_tenant(tenant).first()
    return found or AppleMdmSettings(tenant=tenant)


@transaction.atomic
def do_save_apple_settings(tenant, *, actor, origin=None, **values) -> AppleMdmSettings:
    settings, _ = AppleMdmSettings.objects.select_for_update().get_or_create(tenant=tenant)
    changed = sorted(k for k, v in values.items() if getattr(settings, k) != v)
    for key, value in values.items():
        setattr(settings, key, value)
    settings.save()
    record(tenant, AuditAction.APPLE_SETTINGS_SAVED, actor=actor, target=settings,
           origin=origin, detail={"changed": changed, "push_topic": settings.push_topic,
                                  "sign_enrollment_profiles":
                                      settings.sign_enrollment_profiles})
    return settings
