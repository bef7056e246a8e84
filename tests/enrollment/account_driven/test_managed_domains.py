"""Managed domains: the service's validation, the API (tenant-scoped, a 409 that names no
other organization) and Settings > Registration."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from enrollment.models import ManagedDomain
from enrollment.services.managed_domains import do_add_managed_domain, normalize_domain

pytestmark = pytest.mark.django_db
API = "/api/v1/managed-domains/"


@pytest.mark.parametrize("value,stored", [
    ("Example.COM", "example.com"), (" example.com. ", "example.com"),
    ("mail.corp-1.example.co.uk", "mail.corp-1.example.co.uk"), ("acme.sim", "acme.sim"),
])
def test_domains_are_normalized(value, stored):
    assert normalize_domain(value) == stored


@pytest.mark.parametrize("value", [
    "", "example", "https://example.com", "example.com:443", "example.com/path",
    "user@example.com", "*.example.com", "-bad.example.com", "bad-.example.com",
    "exa mple.com", "10.0.0.1", "a" * 64 + ".com", "ex\x00ample.com", "example..com",
])
def test_what_is_not_a_domain_name_is_refused(value):
    with pytest.raises(ValidationError):
        normalize_domain(value)


def test_api_adds_lists_and_removes(api, tenant, settings):
    created = api.post(API, {"domain": "Acme.TEST"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["domain"] == "acme.test"
    assert body["discovery_url"] == \
        f"{settings.MDM_PUBLIC_URL}/.well-known/com.apple.remotemanagement"
    listed = api.get(API).json()
    assert [item["domain"] for item in listed["results"]] == ["acme.test"]
    assert api.delete(f"{API}{body['id']}/").status_code == 204
    assert not ManagedDomain.objects.exists()
    actions = list(AuditEvent.objects.filter(tenant=tenant, action__startswith="account.domain")
                   .order_by("id").values_list("action", "detail"))
    assert actions == [("account.domain_added", {"domain": "acme.test"}),
                       ("account.domain_removed", {"domain": "acme.test"})]


@pytest.mark.parametrize("data", [{"domain": "https://acme.test"}, {"domain": "acme"},
                                  {}, {"domain": 5}, {"domain": "acme.test", "id": 3}])
def test_api_400_names_the_field(api, data):
    response = api.post(API, data, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"]
    assert not ManagedDomain.objects.exists()


def test_a_domain_of_another_organization_is_a_409_that_does_not_name_it(api, other_tenant,
                                                                         other_admin):
    do_add_managed_domain(other_tenant, "globex.test", actor=other_admin)
    response = api.post(API, {"domain": "GLOBEX.test"}, format="json")
    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert "another organization" in message
    assert "globex" not in message.lower().replace("globex.test", "") and "Globex" not in message
    again = api.post(API, {"domain": "acme.test"}, format="json")
    assert again.status_code == 201
    same = api.post(API, {"domain": "acme.test"}, format="json")
    assert same.status_code == 409 and same.json()["error"]["message"] == message
    theirs_exact = api.post(API, {"domain": "globex.test"}, format="json")
    assert theirs_exact.status_code == 409 and theirs_exact.json()["error"]["message"] == message


def test_tenant_isolation(api, other_api, tenant, admin, other_tenant, other_admin):
    mine = do_add_managed_domain(tenant, "acme.test", actor=admin)
    theirs = do_add_managed_domain(other_tenant, "globex.test", actor=other_admin)
    assert [d["domain"] for d in api.get(API).json()["results"]] == ["acme.test"]
    assert api.get(f"{API}{theirs.pk}/").status_code == 404
    assert api.delete(f"{API}{theirs.pk}/").status_code == 404
    assert other_api.delete(f"{API}{mine.pk}/").status_code == 404
    assert ManagedDomain.objects.count() == 2


def test_schema_declares_the_errors(api):
    schema = api.get("/api/schema/?format=json").json()
    create = schema["paths"][API]["post"]["responses"]
    assert {"201", "400", "401", "409"} <= set(create)
    assert "another organization" in create["409"]["description"]
    assert {"204", "401", "404"} <= set(schema["paths"][API + "{id}/"]["delete"]["responses"])


def test_settings_page_shows_adds_and_removes_domains(portal, tenant, settings, other_tenant,
                                                     other_admin):
    page = "/t/acme/admin/settings/registration/"
    added = portal.post(page, {"action": "add_domain", "domain": "Acme.test"})
    assert added.status_code == 302
    html = portal.get(page).content.decode()
    assert "<code>acme.test</code>" in html
    assert f"{settings.MDM_PUBLIC_URL}/.well-known/com.apple.remotemanagement" in html
    assert "&quot;Version&quot;: &quot;mdm-adde&quot;" in html
    assert f"{settings.MDM_PUBLIC_URL}/t/acme/enroll/account/adde" in html
    assert "return 302" in html and "proxy_pass" in html
    do_add_managed_domain(other_tenant, "globex.test", actor=other_admin)
    taken = portal.post(page, {"action": "add_domain", "domain": "globex.test"})
    assert taken.status_code == 400 and "another organization" in taken.content.decode()
    bad = portal.post(page, {"action": "add_domain", "domain": "http://x.test"})
    assert bad.status_code == 400 and "no scheme" in bad.content.decode()
    managed = ManagedDomain.objects.get(domain="acme.test")
    foreign = ManagedDomain.objects.get(domain="globex.test")
    assert portal.post(page, {"action": "remove_domain",
                              "domain_id": foreign.pk}).status_code == 404
    assert portal.post(page, {"action": "remove_domain",
                              "domain_id": managed.pk}).status_code == 302
    assert list(ManagedDomain.objects.values_list("domain", flat=True)) == ["globex.test"]
