"""The push topic guard also holds for the Apple MDM settings (issue 16): while an APNs
certificate is installed its topic is the topic; without one, a new topic that would lose
managed Apple devices needs the admin's confirmation, naming how many."""

from __future__ import annotations

import pytest

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.push.credentials import do_upload_apns_certificate
from enrollment.services.apple_settings import apple_settings
from tests.base.apple.simulator import TOPIC
from tests.base.push.pki import make_pki
from tests.devices.conftest import enroll

pytestmark = pytest.mark.django_db

URL = "/api/v1/apple-mdm-settings/current/"
OTHER = "com.apple.mgmt.External.11111111-2222-3333-4444-555555555555"


def test_a_new_topic_without_devices_is_simply_saved(api, apple_tenant):
    response = api.patch(URL, {"push_topic": OTHER}, format="json")
    assert response.status_code == 200 and response.json()["push_topic"] == OTHER
    assert "confirm_topic_change" not in response.json()


def test_a_new_topic_that_loses_devices_needs_confirmation(api, apple_tenant, iphone):
    enroll(iphone)
    refused = api.patch(URL, {"push_topic": OTHER}, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "confirmation_required"
    assert error["confirmation"] == {"current_topic": TOPIC, "new_topic": OTHER,
                                     "apple_devices": 1}
    assert "all 1 Apple device(s) would have to enroll again" in error["message"]
    assert apple_settings(apple_tenant).push_topic == TOPIC  # nothing saved
    event = AuditEvent.objects.get(action=AuditAction.APNS_TOPIC_CHANGE_REFUSED)
    assert event.detail == {"topic": OTHER, "previous_topic": TOPIC, "apple_devices": 1}

    confirmed = api.patch(URL, {"push_topic": OTHER, "confirm_topic_change": True},
                          format="json")
    assert confirmed.status_code == 200
    assert apple_settings(apple_tenant).push_topic == OTHER


def test_the_installed_certificate_decides_the_topic(api, apple_tenant, admin, tmp_path):
    pki = make_pki(str(tmp_path))
    do_upload_apns_certificate(apple_tenant, pki.push_p12, password="secret", actor=admin)
    refused = api.patch(URL, {"push_topic": OTHER, "confirm_topic_change": True},
                        format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid"
    assert "upload another certificate" in refused.json()["error"]["message"]
    assert api.patch(URL, {"push_topic": TOPIC, "sign_enrollment_profiles": False},
                     format="json").status_code == 200
    assert apple_settings(apple_tenant).sign_enrollment_profiles is False


def test_the_settings_page_asks_for_the_confirmation(portal, apple_tenant, iphone):
    enroll(iphone)
    url = "/t/acme/admin/settings/apple-mdm/"
    refused = portal.post(url, {"push_topic": OTHER, "sign_enrollment_profiles": "on"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "all 1 Apple device(s) would have to enroll again" in page
    assert 'name="confirm_topic_change"' in page
    assert apple_settings(apple_tenant).push_topic == TOPIC
    saved = portal.post(url, {"push_topic": OTHER, "sign_enrollment_profiles": "on",
                              "confirm_topic_change": "on"})
    assert saved.status_code == 302
    assert apple_settings(apple_tenant).push_topic == OTHER
