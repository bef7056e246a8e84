"""LDAP connector end to end, against a real slapd (tests/users/ldap_server.py): import, update,
disable and re-enable; network-credential sign-in; failures with clear messages and nothing
half-imported; constant query counts; tenant isolation; the API, the portal page, the tasks."""
# ruff: noqa: F811 - the slapd/directory fixtures are imported, then named as test arguments

from __future__ import annotations

import logging

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from core.platforms import Platform
from devices.models import Device, DeviceState
from tests.base.tenancy import TenantIsolationContract
from tests.users.ldap_server import READER_DN, READER_PASSWORD, directory, slapd  # noqa: F401
from users import tasks
from users.ldap.client import LdapClient, LdapSettings
from users.models import LdapConnector, LdapSyncStatus, User, UserRole, UserSource
from users.services.ldap import (
    check_ldap_connection,
    do_save_ldap_connector,
    do_sync_ldap,
)

API = "/api/v1/ldap-connector/"


def configure(tenant, admin, directory, **overrides) -> LdapConnector:
    return do_save_ldap_connector(tenant, actor=admin, **directory.connector_values(**overrides))


def sync(tenant, admin):
    outcome = do_sync_ldap(tenant, actor=admin)
    assert outcome.status == "succeeded", outcome.error
    return outcome


def ldap_users(tenant):
    return User.objects.for_tenant(tenant).filter(source=UserSource.LDAP)


# -- import, update, disable, re-enable ----------------------------------------------------------

def test_first_sync_imports_directory_users(tenant, admin, directory):
    directory.add("ann", given_name="Ann", surname="Lee")
    directory.add("bob", mail="Bob.Smith@Example.TEST", given_name="Bob", surname="Smith")
    configure(tenant, admin, directory)

    outcome = sync(tenant, admin)

    assert outcome.counts["created"] == 2 and outcome.counts["entries"] == 2
    ann = User.objects.get(tenant=tenant, email="ann@example.test")
    assert (ann.first_name, ann.last_name, ann.source, ann.role) == (
        "Ann", "Lee", UserSource.LDAP, UserRole.USER)
    assert ann.ldap_dn == directory.dn("ann")
    assert len(ann.external_id) == 36  # entryUUID
    assert not ann.has_usable_password() and ann.is_active
    assert User.objects.filter(tenant=tenant, email="bob.smith@example.test").exists()
    connector = LdapConnector.objects.get(tenant=tenant)
    assert connector.last_sync_status == LdapSyncStatus.SUCCEEDED
    assert connector.last_sync_counts["created"] == 2 and connector.last_sync_error == ""
    event = AuditEvent.objects.get(tenant=tenant, action="ldap.synced")
    assert event.detail["counts"]["created"] == 2
    assert sorted(event.detail["created_user_ids"]) == sorted(ldap_users(tenant).values_list(
        "id", flat=True))


def test_second_sync_updates_changed_entries_only(tenant, admin, directory):
    directory.add("ann", given_name="Ann", surname="Lee")
    directory.add("bob")
    configure(tenant, admin, directory)
    sync(tenant, admin)
    directory.modify("ann", givenName="Anne", sn="Leigh", mail="anne.leigh@example.test")

    outcome = sync(tenant, admin)

    assert (outcome.counts["updated"], outcome.counts["unchanged"], outcome.counts["created"]) == (
        1, 1, 0)
    ann = User.objects.get(tenant=tenant, ldap_dn=directory.dn("ann"))
    assert (ann.first_name, ann.last_name, ann.email) == ("Anne", "Leigh",
                                                          "anne.leigh@example.test")


def test_removed_entries_are_disabled_not_deleted_and_devices_untouched(tenant, admin,
                                                                        directory):
    directory.add("ann")
    directory.add("bob")
    configure(tenant, admin, directory)
    sync(tenant, admin)
    bob = User.objects.get(tenant=tenant, email="bob@example.test")
    device = Device.objects.create(tenant=tenant, platform=Platform.IOS, owner=bob,
                                   state=DeviceState.ACTIVE, udid="UDID-BOB")
    directory.delete("bob")

    outcome = sync(tenant, admin)

    assert outcome.counts["disabled"] == 1 and outcome.counts["unchanged"] == 1
    bob.refresh_from_db()
    assert not bob.is_active and bob.ldap_missing_since is not None
    device.refresh_from_db()
    assert device.owner_id == bob.pk and device.state == DeviceState.ACTIVE
    event = AuditEvent.objects.filter(tenant=tenant, action="ldap.synced").latest("id")
    assert event.detail["disabled_user_ids"] == [bob.pk]
    assert User.objects.get(tenant=tenant, email="ann@example.test").is_active
    # the tenant's local admin is never disabled by a sync
    admin.refresh_from_db()
    assert admin.is_active


def test_returning_entries_are_reenabled(tenant, admin, directory):
    directory.add("ann")
    directory.add("bob")
    directory.add("cat")  # stays: a sync that would disable everyone is refused
    configure(tenant, admin, directory,
              user_filter="(&(objectClass=inetOrgPerson)(!(employeeType=left)))")
    sync(tenant, admin)
    ann_id = User.objects.get(tenant=tenant, email="ann@example.test").pk
    bob_id = User.objects.get(tenant=tenant, email="bob@example.test").pk
    directory.modify("ann", employeeType="left")  # filtered out: same entry, same entryUUID
    directory.delete("bob")  # deleted: comes back as a new entry with a new entryUUID
    assert sync(tenant, admin).counts["disabled"] == 2

    directory.modify("ann", employeeType="staff")
    directory.add("bob")
    outcome = sync(tenant, admin)

    assert outcome.counts["reenabled"] == 2 and outcome.counts["created"] == 0
    for user_id in (ann_id, bob_id):
        user = User.objects.get(pk=user_id)
        assert user.is_active and user.ldap_missing_since is None
    assert User.objects.get(pk=bob_id).ldap_dn == directory.dn("bob")


def test_account_disabled_by_an_admin_stays_disabled(tenant, admin, directory):
    directory.add("ann")
    configure(tenant, admin, directory)
    sync(tenant, admin)
    User.objects.filter(tenant=tenant, email="ann@example.test").update(is_active=False)

    outcome = sync(tenant, admin)

    assert outcome.counts["reenabled"] == 0
    assert not User.objects.get(tenant=tenant, email="ann@example.test").is_active


def test_entries_without_email_are_skipped_and_local_accounts_not_overwritten(
        tenant, admin, directory):
    local = User.objects.create_user(tenant, "carol@example.test", "Local-pass-12345",
                                     first_name="Carol")
    directory.add("nomail", mail=None)
    directory.add("carol", given_name="Evil", surname="Twin")
    directory.add("dup1", mail="same@example.test")
    directory.add("dup2", mail="same@example.test")
    directory.add("ann")
    configure(tenant, admin, directory)

    outcome = sync(tenant, admin)

    counts = outcome.counts
    assert (counts["created"], counts["skipped_no_email"], counts["collisions"]) == (2, 1, 2)
    local.refresh_from_db()
    assert (local.source, local.first_name, local.external_id) == (UserSource.LOCAL, "Carol", "")
    assert local.check_password("Local-pass-12345")
    reasons = {p["email"]: p["reason"] for p in outcome.problems}
    assert "local account" in reasons["carol@example.test"]
    assert "same email" in reasons["same@example.test"]
    connector = LdapConnector.objects.get(tenant=tenant)
    assert {p["email"] for p in connector.last_sync_problems} == {"carol@example.test",
                                                                  "same@example.test"}


def test_empty_directory_result_does_not_disable_everyone(tenant, admin, directory):
    directory.add("ann")
    configure(tenant, admin, directory)
    sync(tenant, admin)
    do_save_ldap_connector(tenant, actor=admin, user_filter="(objectClass=nothingMatches)")

    outcome = do_sync_ldap(tenant, actor=admin)

    assert outcome.status == "failed" and "refusing to disable" in outcome.error
    assert User.objects.get(tenant=tenant, email="ann@example.test").is_active


# -- failures: clear message, nothing half-imported ---------------------------------------------

def test_server_down_records_a_clear_error_and_imports_nothing(tenant, admin, directory):
    from tests.users.ldap_server import free_port

    directory.add("ann")
    configure(tenant, admin, directory, server_urls=[f"ldap://127.0.0.1:{free_port()}"])

    outcome = do_sync_ldap(tenant, actor=admin)

    assert outcome.status == "failed"
    assert "Directory unreachable" in outcome.error and "Connection refused" in outcome.error
    assert not ldap_users(tenant).exists()
    connector = LdapConnector.objects.get(tenant=tenant)
    assert connector.last_sync_status == LdapSyncStatus.FAILED
    assert "Directory unreachable" in connector.last_sync_error
    assert AuditEvent.objects.filter(tenant=tenant, action="ldap.sync_failed").count() == 1


def test_failover_uses_the_next_server(tenant, admin, directory, slapd):
    from tests.users.ldap_server import free_port

    directory.add("ann")
    configure(tenant, admin, directory,
              server_urls=[f"ldap://127.0.0.1:{free_port()}", slapd.url])
    assert sync(tenant, admin).counts["created"] == 1


def test_bad_bind_password_and_bad_base_dn_give_clear_messages(tenant, admin, directory):
    directory.add("ann")
    configure(tenant, admin, directory, bind_password="not-the-password")

    result = check_ldap_connection(tenant)
    assert not result.ok and "invalid credentials" in result.message
    outcome = do_sync_ldap(tenant, actor=admin)
    assert outcome.status == "failed" and "invalid credentials" in outcome.error
    assert not ldap_users(tenant).exists()

    configure(tenant, admin, directory, base_dn="ou=missing,dc=example,dc=test")
    result = check_ldap_connection(tenant)
    assert not result.ok and "does not exist" in result.message

    configure(tenant, admin, directory)
    result = check_ldap_connection(tenant)
    assert result.ok and result.entry_count == 1 and "matches 1 entries" in result.message


@pytest.mark.filterwarnings("ignore:ssl.match_hostname:DeprecationWarning")  # inside ldap3
def test_tls_is_verified_against_the_configured_ca(tenant, admin, directory, slapd):
    settings = LdapSettings(server_urls=(slapd.url,), base_dn=directory.base_dn,
                            bind_dn=READER_DN, bind_password=READER_PASSWORD, start_tls=True)
    untrusted = LdapClient(settings).test_connection()
    assert not untrusted.ok and "not trusted" in untrusted.message

    configure(tenant, admin, directory, start_tls=True, ca_certificate_pem=slapd.ca_pem)
    assert check_ldap_connection(tenant).ok
    configure(tenant, admin, directory, start_tls=False, server_urls=[slapd.ldaps_url])
    assert check_ldap_connection(tenant).ok


def test_bind_password_is_encrypted_and_never_logged(tenant, admin, directory, caplog):
    caplog.set_level(logging.DEBUG)
    directory.add("ann")
    connector = configure(tenant, admin, directory)
    assert READER_PASSWORD.encode() not in bytes(connector.bind_password_encrypted)
    assert READER_PASSWORD not in repr(connector.client_settings())
    sync(tenant, admin)
    check_ldap_connection(tenant)
    assert READER_PASSWORD not in caplog.text
    for event in AuditEvent.objects.filter(tenant=tenant):
        assert READER_PASSWORD not in str(event.detail)


# -- bulk: constant number of queries -----------------------------------------------------------

def _sync_queries(tenant, admin) -> int:
    with CaptureQueriesContext(connection) as queries:
        sync(tenant, admin)
    return len(queries)


def test_query_count_does_not_grow_with_the_directory(tenant, admin, other_tenant, other_admin,
                                                      slapd):
    from tests.users.ldap_server import Directory

    small, large = Directory(slapd), Directory(slapd)
    small.add_many(50)
    large.add_many(600)  # more than the server's 500-entry search limit: paging is required
    configure(tenant, admin, small)
    configure(other_tenant, other_admin, large)

    first = (_sync_queries(tenant, admin), _sync_queries(other_tenant, other_admin))
    assert ldap_users(tenant).count() == 50 and ldap_users(other_tenant).count() == 600
    assert first[0] == first[1], first

    for part, step in ((small, 10), (large, 60)):  # rename some, remove some
        for i in range(0, 50, step):
            part.modify(f"user{i}", givenName=f"Renamed{i}")
        for i in range(1, 50, step):
            part.delete(f"user{i}")
    second = (_sync_queries(tenant, admin), _sync_queries(other_tenant, other_admin))
    assert second[0] == second[1], second
    assert LdapConnector.objects.get(tenant=tenant).last_sync_counts["disabled"] == 5


# -- network-credential sign-in -----------------------------------------------------------------

@pytest.fixture
def ldap_ann(tenant, admin, directory):
    person = directory.add("ann", password="Ann-network-pass-1")
    directory.add("keeper")  # so removing ann is not "the directory went empty"
    configure(tenant, admin, directory)
    sync(tenant, admin)
    return person


def test_self_service_sign_in_with_the_directory_password(client, tenant, ldap_ann):
    url = f"/t/{tenant.slug}/portal/login/"
    wrong = client.post(url, {"email": "ann@example.test", "password": "wrong-password"})
    assert wrong.status_code == 400 and "not correct" in wrong.content.decode()

    response = client.post(url, {"email": "ANN@example.test", "password": ldap_ann.password})

    assert response.status_code == 302 and response["Location"] == f"/t/{tenant.slug}/portal/"
    assert client.get(f"/t/{tenant.slug}/portal/").status_code == 200
    assert AuditEvent.objects.filter(tenant=tenant, action="auth.login").exists()


def test_disabled_directory_account_cannot_sign_in(client, tenant, admin, directory, ldap_ann):
    directory.delete("ann")
    sync(tenant, admin)
    response = client.post(f"/t/{tenant.slug}/portal/login/",
                           {"email": "ann@example.test", "password": ldap_ann.password})
    assert response.status_code == 400


def test_directory_sign_in_is_rate_limited(client, tenant, ldap_ann, settings):
    settings.MDM_LOGIN_ATTEMPT_LIMIT = 3
    url = f"/t/{tenant.slug}/portal/login/"
    for _ in range(3):
        client.post(url, {"email": "ann@example.test", "password": "wrong-password"})
    response = client.post(url, {"email": "ann@example.test", "password": ldap_ann.password})
    assert response.status_code == 400
    assert "Too many failed attempts" in response.content.decode()


def test_stored_host_the_resolver_refuses_is_unreachable_not_a_500(client, tenant, ldap_ann):
    """A host name saved before it was validated: sign-in says the directory is unreachable."""
    LdapConnector.objects.filter(tenant=tenant).update(server_urls=["ldap://a..b"])
    response = client.post(f"/t/{tenant.slug}/portal/login/",
                           {"email": "ann@example.test", "password": ldap_ann.password})
    assert response.status_code == 400
    assert "Directory unreachable" in response.content.decode()


def test_directory_down_at_sign_in_gives_a_clear_message(client, tenant, admin, ldap_ann):
    from tests.users.ldap_server import free_port

    LdapConnector.objects.filter(tenant=tenant).update(
        server_urls=[f"ldap://127.0.0.1:{free_port()}"])
    response = client.post(f"/t/{tenant.slug}/portal/login/",
                           {"email": "ann@example.test", "password": ldap_ann.password})
    assert response.status_code == 400
    assert "Directory unreachable" in response.content.decode()
    event = AuditEvent.objects.filter(tenant=tenant, action="auth.login_failed").latest("id")
    assert event.detail["reason"] == "directory unreachable"


def test_local_accounts_still_sign_in_with_their_own_password(client, tenant, ldap_ann):
    from tests.conftest import PASSWORD

    response = client.post(f"/t/{tenant.slug}/admin/login/",
                           {"email": "admin@acme.test", "password": PASSWORD})
    assert response.status_code == 302


# -- tenant isolation ---------------------------------------------------------------------------

def test_sync_touches_only_its_own_tenant(tenant, admin, other_tenant, other_admin, slapd):
    from tests.users.ldap_server import Directory

    ours, theirs = Directory(slapd), Directory(slapd)
    ours.add("ann")
    theirs.add("ann")  # the same email in another tenant is another account
    theirs.add("zed")
    configure(tenant, admin, ours)
    configure(other_tenant, other_admin, theirs)
    sync(other_tenant, other_admin)
    before = list(User.objects.for_tenant(other_tenant).order_by("id").values())
    their_connector = LdapConnector.objects.get(tenant=other_tenant)

    ours.delete("ann")
    sync(tenant, admin)
    ours.add("ann")
    sync(tenant, admin)

    assert list(User.objects.for_tenant(other_tenant).order_by("id").values()) == before
    their_connector_now = LdapConnector.objects.get(tenant=other_tenant)
    assert their_connector_now.last_sync_at == their_connector.last_sync_at
    assert ldap_users(tenant).count() == 1


class TestLdapConnectorIsolation(TenantIsolationContract):
    api_list_url = API
    portal_list_url = "/t/{slug}/admin/settings/directory/"

    def make_object(self, tenant, admin):
        return do_save_ldap_connector(tenant, actor=admin, server_urls=["ldap://globex.test"],
                                      base_dn="ou=Globex-Only,dc=globex,dc=test")

    def object_marker(self, obj) -> str:
        return "Globex-Only"

    def test_api_list_hides_foreign_objects(self, api, foreign_object):
        # A singleton: the other tenant's connector is simply not ours to see.
        response = api.get(self.api_list_url)
        assert response.status_code == 404
        assert "Globex" not in response.content.decode()
        assert api.post(f"{API}sync/").status_code == 404
        assert api.post(f"{API}test/").status_code == 404


# -- API -----------------------------------------------------------------------------------------

def test_api_configures_tests_and_syncs_without_returning_the_password(api, tenant, directory):
    directory.add("ann")
    directory.add("bob")
    assert api.get(API).status_code == 404
    body = {"server_urls": [directory.server.url], "base_dn": directory.base_dn,
            "bind_dn": READER_DN, "bind_password": READER_PASSWORD, "sync_interval_minutes": 30}

    created = api.put(API, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["has_bind_password"] is True
    assert "bind_password" not in created.json() and READER_PASSWORD not in created.content.decode()
    shown = api.get(API)
    assert shown.status_code == 200 and READER_PASSWORD not in shown.content.decode()
    assert shown.json()["user_filter"] == "(objectClass=inetOrgPerson)"

    # a PUT without the password keeps the stored one
    updated = api.put(API, {**body, "bind_password": "", "sync_interval_minutes": 15},
                      format="json")
    assert updated.status_code == 200 and updated.json()["sync_interval_minutes"] == 15
    assert LdapConnector.objects.get(tenant=tenant).get_bind_password() == READER_PASSWORD


    tested = api.post(f"{API}test/")
    assert tested.status_code == 200 and tested.json()["ok"] is True
    synced = api.post(f"{API}sync/")
    assert synced.status_code == 200
    assert synced.json()["status"] == "succeeded" and synced.json()["counts"]["created"] == 2
    assert api.get(API).json()["last_sync_counts"]["created"] == 2
    event = AuditEvent.objects.filter(tenant=tenant, action="ldap.connector_saved").earliest("id")
    assert "bind_password" in event.detail["changed"] and READER_PASSWORD not in str(event.detail)

    # A PUT for other servers needs the password again: the stored one never goes to a new host
    moved = {**body, "server_urls": ["ldap://collector.example.test"], "bind_password": ""}
    refused = api.put(API, moved, format="json")
    assert refused.status_code == 409 and "bind_password" in refused.json()["error"]["fields"]
    assert LdapConnector.objects.get(tenant=tenant).server_urls == [directory.server.url]
    assert api.put(API, {**moved, "bind_password": READER_PASSWORD}, format="json"
                   ).status_code == 200


@pytest.mark.parametrize(("field", "value"), [
    ("server_urls", ["http://ldap.example.test"]),
    ("server_urls", ["ldap://"]),
    ("server_urls", ["ldap://ldap.example.test:99999"]),
    ("server_urls", ["ldap://a..b"]),  # the resolver's idna codec refuses it (was a 500)
    ("server_urls", [f"ldap://{'x' * 64}.example.test"]),
    ("server_urls", []),
    ("user_filter", "objectClass=person"),
    ("user_filter", "(&(objectClass=person)"),
    ("base_dn", "not a dn"),
    ("email_attribute", "mail; drop"),
    ("ca_certificate_pem", "not a certificate"),
    ("sync_interval_minutes", 1),
])
def test_api_refuses_bad_input(api, tenant, field, value):
    body = {"server_urls": ["ldap://ldap.example.test"], "base_dn": "dc=example,dc=test",
            field: value}
    response = api.put(API, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not LdapConnector.objects.filter(tenant=tenant).exists()


def test_api_bind_dn_without_any_password_is_refused(api):
    response = api.put(API, {"server_urls": ["ldap://ldap.example.test"],
                             "base_dn": "dc=example,dc=test", "bind_dn": READER_DN},
                       format="json")
    assert response.status_code == 409  # a password stored would have done
    assert "bind_password" in response.json()["error"]["fields"]


def test_api_sync_reports_failure_as_data(api, tenant, admin, directory):
    from tests.users.ldap_server import free_port

    configure(tenant, admin, directory, server_urls=[f"ldap://127.0.0.1:{free_port()}"])
    response = api.post(f"{API}sync/")
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert "Directory unreachable" in response.json()["error"]


# -- portal --------------------------------------------------------------------------------------

def test_portal_page_saves_tests_and_syncs(portal, tenant, directory):
    directory.add("ann")
    url = f"/t/{tenant.slug}/admin/settings/directory/"
    page = portal.get(url)
    assert page.status_code == 200 and "Connect a directory" in page.content.decode()
    form = {"server_urls": f"{directory.server.url}\n", "base_dn": directory.base_dn,
            "bind_dn": READER_DN, "bind_password": READER_PASSWORD,
            "user_filter": "(objectClass=inetOrgPerson)", "email_attribute": "mail",
            "first_name_attribute": "givenName", "last_name_attribute": "sn",
            "unique_id_attribute": "entryUUID", "is_enabled": "on",
            "sync_interval_minutes": "60"}

    assert portal.post(url, form).status_code == 302
    # saving again with the password left blank keeps the stored one
    assert portal.post(url, {**form, "bind_password": ""}).status_code == 302
    connector = LdapConnector.objects.get(tenant=tenant)
    assert connector.get_bind_password() == READER_PASSWORD
    page = portal.get(url).content.decode()
    assert READER_PASSWORD not in page and "(stored)" in page

    tested = portal.post(f"{url}test/", follow=True).content.decode()
    assert "Test connection: Connected to" in tested
    synced = portal.post(f"{url}sync/", follow=True).content.decode()
    assert "Sync finished: 1 entries read, 1 created" in synced
    assert "Succeeded" in synced


def test_portal_form_shows_field_errors(portal, tenant):
    url = f"/t/{tenant.slug}/admin/settings/directory/"
    response = portal.post(url, {"server_urls": "http://nope.test", "base_dn": "nope",
                                 "user_filter": "(broken", "email_attribute": "mail",
                                 "first_name_attribute": "givenName",
                                 "last_name_attribute": "sn", "unique_id_attribute": "entryUUID",
                                 "sync_interval_minutes": "60"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "must start with ldap:// or ldaps://" in text
    assert "not a valid LDAP filter" in text and "not a valid DN" in text
    assert not LdapConnector.objects.filter(tenant=tenant).exists()


def test_portal_sync_shows_the_failure(portal, tenant, admin, directory):
    from tests.users.ldap_server import free_port

    configure(tenant, admin, directory, server_urls=[f"ldap://127.0.0.1:{free_port()}"])
    page = portal.post(f"/t/{tenant.slug}/admin/settings/directory/sync/",
                       follow=True).content.decode()
    assert "Sync failed: Directory unreachable" in page


# -- tasks ---------------------------------------------------------------------------------------

def test_periodic_task_syncs_only_connectors_that_are_due(tenant, admin, other_tenant,
                                                          other_admin, slapd, monkeypatch):
    from tests.users.ldap_server import Directory

    due, recent = Directory(slapd), Directory(slapd)
    due.add("ann")
    configure(tenant, admin, due)
    configure(other_tenant, other_admin, recent)
    sync(other_tenant, other_admin)  # just synced: not due for another hour
    queued = []
    monkeypatch.setattr(tasks.sync_ldap, "delay", lambda tenant_id: queued.append(
        tasks.sync_ldap(tenant_id)))

    result = tasks.sync_ldap_directories()

    assert result == {"queued": [tenant.id]}
    assert queued[0]["status"] == "succeeded" and queued[0]["counts"]["created"] == 1
    assert tasks.sync_ldap_directories() == {"queued": []}


def test_sync_task_skips_while_another_sync_holds_the_lock(tenant, admin, directory):
    import hashlib

    configure(tenant, admin, directory)
    settings = connection.settings_dict
    key = int.from_bytes(hashlib.blake2b(f"ldap-sync:{tenant.id}".encode(),
                                         digest_size=8).digest(), "big", signed=True)
    other = psycopg.connect(host=settings["HOST"], port=settings["PORT"],
                            user=settings["USER"], password=settings["PASSWORD"],
                            dbname=settings["NAME"], autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        result = tasks.sync_ldap(tenant.id)
    finally:
        # Let go before closing: a closed connection's server process drops its locks only
        # once it has exited, which a loaded machine can delay past the next sync below.
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
        other.close()
    assert result["status"] == "skipped"
    assert tasks.sync_ldap(tenant.id)["status"] == "succeeded"


def test_sync_task_for_a_tenant_without_connector_is_a_no_op(tenant):
    assert tasks.sync_ldap(tenant.id)["status"] == "skipped"
    assert tasks.sync_ldap(987654321)["status"] == "skipped"


@pytest.mark.django_db(transaction=True)
def test_sync_task_runs_on_a_real_worker(tenant, admin, directory, celery_processes):
    """The task through a real Celery worker on the configured broker (on its own queue, so no
    other worker takes it), against this test's database."""
    directory.add("ann")
    configure(tenant, admin, directory)
    processes = celery_processes()
    processes.worker(concurrency=1)
    tasks.sync_ldap.apply_async((tenant.id,), queue=processes.queue)
    processes.wait_for(lambda: ldap_users(tenant).exists(), 60)
    connector = LdapConnector.objects.get(tenant=tenant)
    assert connector.last_sync_status == LdapSyncStatus.SUCCEEDED
    assert AuditEvent.objects.filter(tenant=tenant, action="ldap.synced",
                                     actor_label="system:ldap-sync").exists()
