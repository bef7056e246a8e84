"""Public URLs of enrollment endpoints, as devices must reach them (MDM_PUBLIC_URL based)."""

from django.conf import settings
from django.urls import reverse


def scep_url(tenant) -> str:
    return settings.MDM_PUBLIC_URL + reverse("scep", kwargs={"tenant_slug": tenant.slug})
