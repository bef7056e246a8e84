"""Public URLs of the Apple endpoints, as devices must reach them (MDM_PUBLIC_URL based)."""

from django.conf import settings
from django.urls import reverse


def _public(name: str, tenant, **kwargs) -> str:
    return settings.MDM_PUBLIC_URL + reverse(name, kwargs={"tenant_slug": tenant.slug, **kwargs})


def profile_url(tenant, raw_token: str) -> str:
    """Where the device downloads the enrollment profile of the registration whose one-time
    token is ``raw_token`` (``StartedRegistration.profile_token``)."""
    return _public("apple-enrollment-profile", tenant, token=raw_token)


def checkin_url(tenant) -> str:
    return _public("apple-mdm-checkin", tenant)


def server_url(tenant) -> str:
    return _public("apple-mdm-server", tenant)
