"""The enrollment request (BaseURL): 401 with Apple's challenge, the token spent once on a
registration and its profile, every bad input a precise 4xx, audited, with nothing created."""

from __future__ import annotations

import datetime as dt
import plistlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from django.utils import timezone

from audit.models import AuditEvent
from devices.simulator.account_driven import device_identity, signed_machine_info
from devices.simulator.enroll_apple import profile_contents
from enrollment.models import (
    AccountEnrollmentToken,
    Registration,
    RegistrationMethod,
    RegistrationState,
)
from enrollment.services.account_enrollment import do_issue_account_token
from tests.enrollment.account_driven.conftest import enroll_path, post_enroll
from tests.enrollment.apple.signed_profiles import payload

pytestmark = pytest.mark.django_db
CHALLENGE = ('Bearer method="apple-as-web", '
             'url="{public}/t/acme/enroll/account/{mode}/sign-in"')


def _refusals(tenant) -> list[dict]:
    return list(AuditEvent.objects.filter(tenant=tenant, action="account.enrollment_refused")
                .values_list("detail", flat=True))


@pytest.mark.parametrize("mode", ["adde", "byod"])
def test_without_a_token_the_device_is_sent_to_sign_in(client, apple_tenant, machine_info,
                                                       settings, mode):
    response = post_enroll(client, machine_info, mode=mode)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE.format(public=settings.MDM_PUBLIC_URL,
                                                            mode=mode)
    assert response.content == b""
    assert not Registration.objects.exists() and _refusals(apple_tenant) == []


def test_a_valid_token_is_spent_once_on_a_registration_and_its_profile(
        client, apple_tenant, alice, machine_info):
    raw = do_issue_account_token(apple_tenant, alice, "adde")
    response = post_enroll(client, machine_info, raw)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-apple-aspen-config"
    profile = profile_contents(response.content)
    mdm = payload(profile, "com.apple.mdm")
    assert mdm["EnrollmentMode"] == "ADDE" and mdm["AssignedManagedAppleID"] == alice.email
    assert mdm["AccessRights"] == 8191
    registration = Registration.objects.get()
    assert (registration.user, registration.platform, registration.method, registration.state) \
        == (alice, "ios", RegistrationMethod.ACCOUNT_DRIVEN, RegistrationState.PROFILE_DOWNLOADED)
    scep = payload(profile, "com.apple.security.scep")["PayloadContent"]
    assert scep["Subject"][-1] == [["CN", f"acme registration {registration.pk}"]]
    token = AccountEnrollmentToken.objects.get()
    assert token.used_at is not None and token.registration == registration
    assert AuditEvent.objects.filter(tenant=apple_tenant, action="account.token_used",
                                     detail__registration_id=registration.pk).exists()
    # The same token again: refused, audited, nothing new.
    again = post_enroll(client, machine_info, raw)
    assert again.status_code == 401 and "apple-as-web" in again["WWW-Authenticate"]
    assert Registration.objects.count() == 1
    assert _refusals(apple_tenant)[-1]["reason"] == "used"


def test_a_mac_gets_a_macos_registration(client, apple_tenant, alice, device_key):
    raw = do_issue_account_token(apple_tenant, alice, "adde")
    response = post_enroll(client, signed_machine_info(device_key, product="Mac14,2"), raw)
    assert response.status_code == 200
    assert Registration.objects.get().platform == "macos"
    mdm = payload(profile_contents(response.content), "com.apple.mdm")
    assert "com.apple.mdm.per-user-connections" in mdm["ServerCapabilities"]


def test_byod_token_gets_a_user_enrollment_profile(client, apple_tenant, alice, machine_info):
    raw = do_issue_account_token(apple_tenant, alice, "byod")
    response = post_enroll(client, machine_info, raw, mode="byod")
    assert response.status_code == 200
    mdm = payload(profile_contents(response.content), "com.apple.mdm")
    assert mdm["EnrollmentMode"] == "BYOD" and mdm["AssignedManagedAppleID"] == alice.email
    assert "AccessRights" not in mdm


def _expired(tenant, user):
    raw = do_issue_account_token(tenant, user, "adde")
    AccountEnrollmentToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    return raw


@pytest.mark.parametrize("make_token,reason", [
    (lambda tenant, user, other: "not-a-token", "unknown"),
    (lambda tenant, user, other: "", "unknown"),
    (lambda tenant, user, other: _expired(tenant, user), "expired"),
    (lambda tenant, user, other: do_issue_account_token(tenant, user, "byod"), "other_mode"),
    (lambda tenant, user, other: do_issue_account_token(
        other, other.users.get(email="admin@globex.test"), "adde"), "unknown"),
])
def test_bad_tokens_get_the_challenge_again(client, apple_tenant, alice, other_tenant,
                                            machine_info, make_token, reason):
    raw = make_token(apple_tenant, alice, other_tenant)
    response = post_enroll(client, machine_info, raw)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer method="apple-as-web", url="')
    assert not Registration.objects.exists()
    assert AccountEnrollmentToken.objects.filter(used_at__isnull=False).count() == 0
    assert _refusals(apple_tenant) == [{"mode": "adde", "reason": reason,
                                        "product": "iPhone15,2"}]
    assert _refusals(other_tenant) == []


def test_a_disabled_user_cannot_spend_a_token(client, apple_tenant, alice, machine_info):
    raw = do_issue_account_token(apple_tenant, alice, "adde")
    alice.is_active = False
    alice.save()
    assert post_enroll(client, machine_info, raw).status_code == 401
    assert _refusals(apple_tenant)[0]["reason"] == "user_disabled"
    assert not Registration.objects.exists()


def _unsigned(key) -> bytes:
    return plistlib.dumps({"PRODUCT": "iPhone15,2", "VERSION": "21E236"})


def _tampered(key) -> bytes:
    body = bytearray(signed_machine_info(key))
    at = body.index(b"iPhone15,2")
    body[at:at + 6] = b"iPad13"
    return bytes(body)


def _signed_garbage(key) -> bytes:
    return (pkcs7.PKCS7SignatureBuilder().set_data(b"not a plist at all")
            .add_signer(device_identity(key), key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


def _detached(key) -> bytes:
    return (pkcs7.PKCS7SignatureBuilder().set_data(plistlib.dumps({"PRODUCT": "iPhone15,2"}))
            .add_signer(device_identity(key), key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))


def _no_product(key) -> bytes:
    return signed_machine_info(key, product="")


@pytest.mark.parametrize("make_body,error", [
    (lambda key: b"", "empty body"),
    (_unsigned, "unsigned"),
    (_tampered, "messageDigest does not match"),
    (_signed_garbage, "not a plist"),
    (_detached, "carries no content"),
    (_no_product, "no PRODUCT"),
    (lambda key: b"\x30\x82" + b"\xff" * 100, "unsigned"),
])
@pytest.mark.parametrize("with_token", [False, True])
def test_malformed_bodies_are_a_400(client, apple_tenant, alice, device_key, make_body, error,
                                    with_token):
    raw = do_issue_account_token(apple_tenant, alice, "adde") if with_token else None
    response = post_enroll(client, make_body(device_key), raw)
    assert response.status_code == 400
    assert "WWW-Authenticate" not in response
    refusal, = _refusals(apple_tenant)
    assert refusal["reason"] == "malformed_body" and error in refusal["error"]
    assert not Registration.objects.exists()
    assert AccountEnrollmentToken.objects.filter(used_at__isnull=False).count() == 0


def test_a_product_we_do_not_enroll_is_refused(client, apple_tenant, alice, device_key):
    raw = do_issue_account_token(apple_tenant, alice, "adde")
    response = post_enroll(client, signed_machine_info(device_key, product="AppleTV14,1"), raw)
    assert response.status_code == 403
    assert _refusals(apple_tenant)[0]["reason"] == "unsupported_product"
    assert AccountEnrollmentToken.objects.get().used_at is None


def test_unknown_mode_tenant_and_method(client, apple_tenant, machine_info):
    assert client.post(enroll_path(mode="other"), data=machine_info,
                       content_type="application/pkcs7-signature").status_code == 404
    assert post_enroll(client, machine_info, slug="nope").status_code == 404
    assert client.get(enroll_path()).status_code == 405


def test_not_ready_tenant_keeps_the_token(client, tenant, alice, machine_info):
    raw = do_issue_account_token(tenant, alice, "adde")  # no push topic yet
    assert post_enroll(client, machine_info, raw).status_code == 503
    assert AccountEnrollmentToken.objects.get().used_at is None
