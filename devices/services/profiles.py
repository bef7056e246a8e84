"""Configuration profiles on devices: signed for the tenant and queued as InstallProfile, one
by one (an admin's action) or every assigned one when a device enrolls."""

from __future__ import annotations

from collections.abc import Iterable

from devices.apple.commands import do_enqueue_command
from enrollment.services.profile_signing import sign_for_tenant
from profiles import mobileconfig
from profiles.models import ConfigurationProfile
from profiles.services.configuration import build_profile, profiles_for


def render_profile(tenant, profile: ConfigurationProfile, platform: str) -> bytes:
    """The signed .mobileconfig for ``platform``."""
    return sign_for_tenant(tenant, mobileconfig.serialize(build_profile(profile, platform)))


def do_install_profile(tenant, device, profile: ConfigurationProfile, *, actor, channel=None,
                       origin=None):
    """Queue InstallProfile of ``profile`` (signed) on the device, or on ``channel``."""
    assert profile.tenant_id == tenant.id
    return do_enqueue_command(tenant, device, "InstallProfile",
                              {"Payload": render_profile(tenant, profile, device.platform)},
                              actor=actor, channel=channel, origin=origin)


def queue_enrollment_profiles(tenant, device, channel, user, scopes: Iterable[str], *,
                              actor) -> list:
    """On enrollment: install every profile assigned to ``user`` for these scopes."""
    return [do_install_profile(tenant, device, profile, actor=actor, channel=channel)
            for profile in profiles_for(tenant, user, device.platform, scopes)]
