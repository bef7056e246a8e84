"""Apple's service discovery: the tenant by the domain of `user-identifier`, Apple's JSON
shape, and a bare 404 for everything else (which organizations exist is never told)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment.models import ManagedDomain
from enrollment.services.managed_domains import do_add_managed_domain, do_remove_managed_domain

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/.well-known/com.apple.remotemanagement"


def test_managed_domain_answers_both_versions(client, apple_tenant, settings):
    response = client.get(URL, {"user-identifier": "Alice@ACME.test", "model-family": "iPhone"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"Servers": [
        {"Version": "mdm-adde", "BaseURL": f"{settings.MDM_PUBLIC_URL}/t/acme/enroll/account/adde"},
        {"Version": "mdm-byod", "BaseURL": f"{settings.MDM_PUBLIC_URL}/t/acme/enroll/account/byod"},
    ]}


def test_the_domain_is_the_part_after_the_last_at(client, apple_tenant):
    assert client.get(URL, {"user-identifier": "odd@name@acme.test"}).status_code == 200
    assert client.get(URL, {"user-identifier": "alice@acme.test@evil.test"}).status_code == 404


@pytest.mark.parametrize("query", [
    {}, {"user-identifier": ""}, {"user-identifier": "alice"}, {"user-identifier": "@acme.test"},
    {"user-identifier": "alice@"}, {"user-identifier": "alice@unknown.test"},
    {"user-identifier": "alice@acme.test:443"}, {"user-identifier": "alice@acme.test/x"},
    {"user-identifier": "alice@\x00acme.test"}, {"user-identifier": "a@" + "x" * 400 + ".test"},
])
def test_unknown_missing_or_malformed_is_a_bare_404(client, apple_tenant, query):
    response = client.get(URL, query)
    assert response.status_code == 404
    assert response.content == b""


def test_another_tenants_domain_leads_to_that_tenant(client, apple_tenant, other_tenant,
                                                     other_admin):
    do_add_managed_domain(other_tenant, "globex.test", actor=other_admin)
    servers = client.get(URL, {"user-identifier": "hank@globex.test"}).json()["Servers"]
    assert all("/t/globex/" in server["BaseURL"] for server in servers)
    other_tenant.is_active = False
    other_tenant.save()
    cache.clear()  # a deactivation reaches discovery when the domain's minute is over
    assert client.get(URL, {"user-identifier": "hank@globex.test"}).status_code == 404


def test_one_query_then_cached_and_dropped_on_change(client, apple_tenant, admin):
    with CaptureQueriesContext(connection) as first:
        assert client.get(URL, {"user-identifier": "a@new.test"}).status_code == 404
    assert sum("enrollment_manageddomain" in q["sql"] for q in first.captured_queries) == 1
    with CaptureQueriesContext(connection) as second:
        assert client.get(URL, {"user-identifier": "a@new.test"}).status_code == 404
    assert not any("enrollment_manageddomain" in q["sql"] for q in second.captured_queries)
    managed = do_add_managed_domain(apple_tenant, "new.test", actor=admin)
    assert client.get(URL, {"user-identifier": "a@new.test"}).status_code == 200
    do_remove_managed_domain(apple_tenant, ManagedDomain.objects.get(pk=managed.pk), actor=admin)
    assert client.get(URL, {"user-identifier": "a@new.test"}).status_code == 404


def test_discovery_skips_the_portal_chain(client, apple_tenant):
    response = client.get(URL, {"user-identifier": "alice@acme.test"})
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers  # the portal middleware did not run
    assert not response.cookies
    assert response.wsgi_request.resolver_match.url_name == "apple-account-discovery"
