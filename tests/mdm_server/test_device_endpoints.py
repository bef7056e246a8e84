"""Devices' protocol endpoints skip the portals' middleware (`DeviceEndpointsMiddleware`):
same views, same tenant resolution, none of the session, CSRF or frame machinery."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.urls import reverse

from enrollment.services.authorities import active_authority
from tests.enrollment.scep.helpers import load_certificates


@pytest.mark.django_db
def test_scep_skips_the_portal_chain(client, tenant):
    response = client.get(f"/t/{tenant.slug}/scep?operation=GetCACaps")
    assert response.status_code == 200 and b"POSTPKIOperation" in response.content
    assert "X-Frame-Options" not in response.headers  # XFrameOptionsMiddleware did not run
    assert not response.cookies
    assert response.wsgi_request.tenant == tenant
    assert response.wsgi_request.resolver_match.url_name == "scep"


@pytest.mark.django_db
def test_portal_pages_still_get_the_chain(client, tenant):
    response = client.get(reverse("portal:login", kwargs={"tenant_slug": tenant.slug}))
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.wsgi_request.tenant == tenant


@pytest.mark.django_db
def test_each_tenant_gets_its_own_ca(client, tenant, other_tenant):
    served = {}
    for owner in (tenant, other_tenant):
        response = client.get(f"/t/{owner.slug}/scep/pkiclient.exe?operation=GetCACert")
        assert response.status_code == 200
        ca = load_certificates(response.content)[0]  # then its SCEP RA
        assert ca.public_bytes(Encoding.DER) == bytes(active_authority(owner).certificate_der)
        served[owner.slug] = response.content
    assert served[tenant.slug] != served[other_tenant.slug]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["scep?operation=GetCACaps", "mdm/checkin", "mdm/server"])
def test_unknown_or_inactive_organization_is_404(client, tenant, path):
    assert client.get(f"/t/nobody/{path}").status_code == 404
    tenant.is_active = False
    tenant.save()
    assert client.get(f"/t/{tenant.slug}/{path}").status_code == 404
