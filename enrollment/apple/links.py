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


def account_enroll_url(tenant_slug: str, mode: str) -> str:
    """Account-driven enrollment's BaseURL (what service discovery answers) for one mode."""
    return settings.MDM_PUBLIC_URL + reverse("apple-account-enroll",
                                             kwargs={"tenant_slug": tenant_slug, "mode": mode})


def account_sign_in_url(tenant_slug: str, mode: str) -> str:
    """The web sign-in the 401 sends the device to (ASWebAuthenticationSession)."""
    return settings.MDM_PUBLIC_URL + reverse("apple-account-sign-in",
                                             kwargs={"tenant_slug": tenant_slug, "mode": mode})


def discovery_url() -> str:
    """Service discovery on this server; a customer's domain redirects or proxies here."""
    return settings.MDM_PUBLIC_URL + reverse("apple-account-discovery")
