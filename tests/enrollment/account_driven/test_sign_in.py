"""The web sign-in the 401 names: the /go rules (password, network credentials, PIN, new
password, rate limit), ending in Apple's callback with a one-time access token."""

from __future__ import annotations

from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest

from audit.models import AuditEvent
from enrollment.models import AccountEnrollmentToken
from enrollment.services.pins import do_issue_pin
from enrollment.services.registrations import hash_token
from tests.conftest import PASSWORD
from tests.users.ldap_server import directory, slapd  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
SIGN_IN = "/t/acme/enroll/account/adde/sign-in"
NEW_PASSWORD = "Purple-elephant-42"


def _token_of(response) -> str:
    assert response.status_code == 308, response.content[:500]
    location = urlsplit(response["Location"])
    assert (location.scheme, location.netloc) == ("apple-remotemanagement-user-login",
                                                  "authentication-results")
    (token,) = parse_qs(location.query)["access-token"]
    return token


def test_the_page_prefills_apples_user_identifier(client, apple_tenant):
    response = client.get(SIGN_IN, {"user-identifier": "alice@acme.test"})
    html = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert 'value="alice@acme.test"' in html and 'name="password"' in html
    assert 'href="/t/acme/enroll/account/adde/sign-in/pin"' in html


def test_password_sign_in_redirects_to_apple_with_a_token(client, apple_tenant, alice,
                                                          settings):
    response = client.post(SIGN_IN, {"email": "ALICE@acme.test", "password": PASSWORD})
    raw = _token_of(response)
    token = AccountEnrollmentToken.objects.get(token_hash=hash_token(raw))
    assert (token.tenant, token.user, token.mode, token.used_at) == (apple_tenant, alice,
                                                                     "adde", None)
    minutes = (token.expires_at - token.created_at).total_seconds() / 60
    assert round(minutes) == settings.MDM_ACCOUNT_TOKEN_TTL_MINUTES == 15
    assert AuditEvent.objects.filter(tenant=apple_tenant, action="account.token_issued",
                                     user=alice, detail__mode="adde").exists()
    assert AuditEvent.objects.filter(tenant=apple_tenant, action="auth.login",
                                     user=alice).exists()
    assert "_auth_user_id" not in client.session  # no portal session: the device gets a token


def test_wrong_password_is_refused_audited_and_rate_limited(client, apple_tenant, alice,
                                                            settings):
    settings.MDM_LOGIN_ATTEMPT_LIMIT = 2
    for _ in range(2):
        wrong = client.post(SIGN_IN, {"email": alice.email, "password": "nope"})
        assert wrong.status_code == 400
        assert "The email or password is not correct." in wrong.content.decode()
    locked = client.post(SIGN_IN, {"email": alice.email, "password": PASSWORD})
    assert locked.status_code == 400 and "Too many failed attempts" in locked.content.decode()
    assert AuditEvent.objects.filter(tenant=apple_tenant, action="auth.login_failed").count() == 2
    assert not AccountEnrollmentToken.objects.exists()


def test_another_tenants_user_cannot_sign_in_here(client, apple_tenant, other_tenant):
    response = client.post(SIGN_IN, {"email": "admin@globex.test", "password": PASSWORD})
    assert response.status_code == 400
    assert not AccountEnrollmentToken.objects.exists()


def test_pin_user_enters_pin_then_sets_a_password(client, apple_tenant, admin, bob):
    issued = do_issue_pin(apple_tenant, bob, actor=admin)
    pin = client.post(SIGN_IN + "/pin", {"email": bob.email, "pin": issued.raw})
    assert pin.status_code == 302 and pin["Location"] == SIGN_IN + "/password"
    weak = client.post(SIGN_IN + "/password", {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 400 and not AccountEnrollmentToken.objects.exists()
    done = client.post(SIGN_IN + "/password",
                       {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    raw = _token_of(done)
    assert AccountEnrollmentToken.objects.get(token_hash=hash_token(raw)).user == bob
    bob.refresh_from_db()
    assert bob.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(tenant=apple_tenant, action="pin.verified",
                                     user=bob).exists()
    assert AuditEvent.objects.filter(tenant=apple_tenant, action="auth.login", user=bob,
                                     detail__via="account-driven enrollment PIN").exists()


def test_wrong_pin_is_refused(client, apple_tenant, admin, bob):
    do_issue_pin(apple_tenant, bob, actor=admin)
    response = client.post(SIGN_IN + "/pin", {"email": bob.email, "pin": "000000"})
    assert response.status_code == 400 and not AccountEnrollmentToken.objects.exists()
    assert AuditEvent.objects.filter(tenant=apple_tenant, action="pin.failed").exists()


def test_password_page_needs_a_verified_pin(client, apple_tenant, bob):
    response = client.get(SIGN_IN + "/password")
    assert response.status_code == 302 and response["Location"] == SIGN_IN


def test_ldap_user_signs_in_with_network_credentials(client, apple_tenant, carol):
    with mock.patch("users.auth._directory_accepts", return_value=True) as bind:
        response = client.post(SIGN_IN, {"email": carol.email, "password": "net-pass"})
    assert bind.called
    assert AccountEnrollmentToken.objects.get(token_hash=hash_token(_token_of(response))).user \
        == carol


def test_byod_sign_in_issues_a_byod_token(client, apple_tenant, alice):
    response = client.post("/t/acme/enroll/account/byod/sign-in",
                           {"email": alice.email, "password": PASSWORD})
    assert AccountEnrollmentToken.objects.get(
        token_hash=hash_token(_token_of(response))).mode == "byod"


def test_directory_users_sign_in_against_real_slapd(client, apple_tenant, admin,
                                                     directory):  # noqa: F811 - fixture
    """A directory user signs in with the password the directory holds (real slapd bind);
    a bind that fails is refused and no token is issued."""
    from users.services.ldap import do_save_ldap_connector, do_sync_ldap

    person = directory.add("dana", given_name="Dana", surname="Lee")
    do_save_ldap_connector(apple_tenant, actor=admin, **directory.connector_values())
    assert do_sync_ldap(apple_tenant, actor=admin).status == "succeeded"
    refused = client.post(SIGN_IN, {"email": person.mail, "password": "not-the-password"})
    assert refused.status_code == 400 and not AccountEnrollmentToken.objects.exists()
    token = _token_of(client.post(SIGN_IN, {"email": person.mail,
                                            "password": person.password}))
    issued = AccountEnrollmentToken.objects.get(token_hash=hash_token(token))
    assert issued.user.ldap_dn == directory.dn("dana")
