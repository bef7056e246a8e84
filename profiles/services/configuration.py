"""Configuration profiles: create, edit, delete (audited); which apply to an enrollment; the
signed .mobileconfig a device installs."""

from __future__ import annotations

import plistlib
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from audit.events import AuditAction
from audit.record import record
from profiles import mobileconfig
from profiles.models import ConfigurationProfile, ProfileTarget

PROFILE_FIELDS = ("name", "identifier", "description", "payload_plist", "scope", "platforms",
                  "assign_to_all")


class InvalidPayload(ValueError):
    """The uploaded payload content is not usable (message is user-facing)."""


def parse_payload_content(text: str | bytes) -> list[dict]:
    """Payloads from admin input: an XML plist array of payload dictionaries, or a whole
    .mobileconfig (its PayloadContent is taken)."""
    data = text.encode() if isinstance(text, str) else bytes(text)
    try:
        value = plistlib.loads(data, fmt=plistlib.FMT_XML)
    except Exception:  # expat and plistlib raise assorted types on garbage
        raise InvalidPayload("Not an XML property list.") from None
    if isinstance(value, dict):
        value = value.get("PayloadContent")
    if not isinstance(value, list) or not value:
        raise InvalidPayload("Give an array of payloads, or a profile with PayloadContent.")
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("PayloadType"), str) \
                or not item["PayloadType"]:
            raise InvalidPayload("Every payload must be a dictionary with a PayloadType.")
    return value


def normalise_payload_plist(text: str | bytes) -> str:
    return plistlib.dumps(parse_payload_content(text), fmt=plistlib.FMT_XML,
                          sort_keys=True).decode()


def _check_builds(profile: ConfigurationProfile) -> None:
    try:
        build_profile(profile, "macos")
    except ValueError as exc:
        raise InvalidPayload(str(exc)) from None


@transaction.atomic
def do_create_profile(tenant, *, actor, assigned_users: Iterable = (), origin=None,
                      **fields) -> ConfigurationProfile:
    fields["payload_plist"] = normalise_payload_plist(fields["payload_plist"])
    profile = ConfigurationProfile(tenant=tenant, profile_uuid=uuid.uuid4(), **fields)
    _check_builds(profile)
    profile.save()
    profile.assigned_users.set([u for u in assigned_users if u.tenant_id == tenant.id])
    record(tenant, AuditAction.CONFIG_PROFILE_CREATED, actor=actor, target=profile,
           origin=origin, detail={"identifier": profile.identifier, "scope": profile.scope})
    return profile


@transaction.atomic
def do_update_profile(tenant, profile: ConfigurationProfile, *, actor, assigned_users=None,
                      origin=None, **fields) -> ConfigurationProfile:
    assert profile.tenant_id == tenant.id
    if "payload_plist" in fields:
        fields["payload_plist"] = normalise_payload_plist(fields["payload_plist"])
    changed = sorted(k for k, v in fields.items() if getattr(profile, k) != v)
    for key, value in fields.items():
        setattr(profile, key, value)
    _check_builds(profile)
    profile.save()
    if assigned_users is not None:
        profile.assigned_users.set([u for u in assigned_users if u.tenant_id == tenant.id])
        changed.append("assigned_users")
    record(tenant, AuditAction.CONFIG_PROFILE_UPDATED, actor=actor, target=profile,
           origin=origin, detail={"changed": changed})
    return profile


@transaction.atomic
def do_delete_profile(tenant, profile: ConfigurationProfile, *, actor, origin=None) -> None:
    assert profile.tenant_id == tenant.id
    record(tenant, AuditAction.CONFIG_PROFILE_DELETED, actor=actor, target=profile,
           origin=origin, detail={"identifier": profile.identifier})
    profile.delete()


def profiles_for(tenant, user, platform: str, scopes: Iterable[str]) -> list[ConfigurationProfile]:
    """Profiles that apply to ``user``'s ``platform`` device, for the given scopes."""
    candidates = (ConfigurationProfile.objects.for_tenant(tenant)
                  .filter(scope__in=list(scopes))
                  .filter(Q(assign_to_all=True) | Q(assigned_users=user)).distinct())
    return [p for p in candidates if platform in (p.platforms or [])]


def build_profile(profile: ConfigurationProfile, platform: str) -> dict:
    scope = None
    if platform == "macos":
        scope = (mobileconfig.ProfileScope.USER if profile.scope == ProfileTarget.USER
                 else mobileconfig.ProfileScope.SYSTEM)
    return mobileconfig.build_configuration_profile(
        profile.name, profile.identifier, parse_payload_content(profile.payload_plist), scope,
        profile_uuid=str(profile.profile_uuid), organization=profile.tenant.name,
        description=profile.description or None)
