"""Settings > Directory (the LDAP connector form), without a directory server: what the page
shows before and after saving, and what it refuses."""

from __future__ import annotations

import html
import re

import pytest

from users.models import LdapConnector
from users.services.ldap import do_save_ldap_connector

pytestmark = pytest.mark.django_db
PAGE = "/t/acme/admin/settings/directory/"
FORM = {"start_tls": "", "ca_certificate_pem": "", "bind_dn": "", "bind_password": "",
        "base_dn": "ou=people,dc=acme,dc=test", "user_filter": "(objectClass=inetOrgPerson)",
        "email_attribute": "mail", "first_name_attribute": "givenName",
        "last_name_attribute": "sn", "unique_id_attribute": "entryUUID",
        "sync_interval_minutes": "60"}


def server_urls_text(response) -> str:
    match = re.search(r'<textarea name="server_urls"[^>]*>(.*?)</textarea>',
                      response.content.decode(), re.S)
    return html.unescape(match.group(1)).strip("\n")


def test_a_new_connector_shows_an_empty_server_urls_box(portal):
    response = portal.get(PAGE)
    assert response.status_code == 200
    assert server_urls_text(response) == ""  # not "[]"


def test_a_saved_connector_shows_one_url_a_line(portal, tenant, admin):
    do_save_ldap_connector(tenant, actor=admin, server_urls=[
        "ldaps://ldap1.acme.test", "ldap://ldap2.acme.test:3389"],
        base_dn="ou=people,dc=acme,dc=test")
    assert server_urls_text(portal.get(PAGE)) == \
        "ldaps://ldap1.acme.test\nldap://ldap2.acme.test:3389"


def test_saving_from_the_page_round_trips_the_urls(portal, tenant):
    typed = " ldap://a.acme.test \n\nldaps://b.acme.test\n"
    response = portal.post(PAGE, {**FORM, "server_urls": typed})
    assert response.status_code == 302, response.content.decode()[:2000]
    connector = LdapConnector.objects.get(tenant=tenant)
    assert connector.server_urls == ["ldap://a.acme.test", "ldaps://b.acme.test"]
    assert server_urls_text(portal.get(PAGE)) == "ldap://a.acme.test\nldaps://b.acme.test"


@pytest.mark.parametrize(("urls", "message"), [
    ("", "This field is required."),
    ("\n  \n", "This field is required."),
    ("[]", "must start with ldap:// or ldaps://"),
    ("http://ldap.acme.test", "must start with ldap:// or ldaps://"),
    ("ldap://", "has no host name"),
])
def test_bad_server_urls_are_refused_and_shown_as_typed(portal, tenant, urls, message):
    response = portal.post(PAGE, {**FORM, "server_urls": urls})
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert server_urls_text(response) == urls.strip("\n")  # what was typed, to correct
    assert not LdapConnector.objects.filter(tenant=tenant).exists()
