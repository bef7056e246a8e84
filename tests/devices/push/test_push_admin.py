"""Settings pages and API for the APNs certificate, app push credentials and reminder cadence;
push attempts in the API and on the device page; the app's push-token endpoint."""

from __future__ import annotations

import base64
import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.urls import reverse

from devices.models import ApnsCertificate, AppPushCredentials, InvalidPushToken, PushAttempt
from enrollment.models import ReminderPolicy
from enrollment.services.apple_settings import apple_settings
from tests.base.push import make_devices
from tests.base.push.pki import TOPIC


def url(name, tenant):
    return reverse(f"portal:{name}", kwargs={"tenant_slug": tenant.slug})


def test_settings_pages_render_with_nav(portal, tenant):
    for name in ("push-apns", "push-app", "push-reminders"):
        response = portal.get(url(name, tenant))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert url("push-apns", tenant) in body and url("push-reminders", tenant) in body


def test_upload_certificate_in_the_portal(portal, tenant, pki, push_settings):
    response = portal.post(url("push-apns", tenant), {
        "certificate": SimpleUploadedFile("push.p12", pki.push_p12), "password": "secret"})
    assert response.status_code == 302
    assert ApnsCertificate.objects.get(tenant=tenant).topic == TOPIC
    assert apple_settings(tenant).push_topic == TOPIC
    page = portal.get(url("push-apns", tenant)).content.decode()
    assert TOPIC in page and "expires in" not in page
    bad = portal.post(url("push-apns", tenant), {
        "certificate": SimpleUploadedFile("push.p12", pki.push_p12), "password": "wrong"})
    assert bad.status_code == 400 and "wrong password" in bad.content.decode()


def test_expiring_certificate_shows_a_warning(portal, tenant, admin, pki, push_settings):
    from devices.push.credentials import do_upload_apns_certificate

    cert, key = pki.push_certificate(days=12)
    do_upload_apns_certificate(tenant, cert + key, actor=admin)
    assert "expires in" in portal.get(url("push-apns", tenant)).content.decode()


def test_app_credentials_and_reminders_in_the_portal(portal, tenant, pki):
    response = portal.post(url("push-app", tenant), {
        "apns_key_id": "KEY1234567", "apns_team_id": "TEAM123456",
        "apns_bundle_id": "com.example.agent",
        "apns_key": SimpleUploadedFile("AuthKey.p8", pki.app_key_pem),
        "fcm_service_account": SimpleUploadedFile(
            "sa.json", json.dumps(pki.service_account("https://oauth2.googleapis.com/token"))
            .encode())})
    assert response.status_code == 302, response.content.decode()[:2000]
    credentials = AppPushCredentials.objects.get(tenant=tenant)
    assert credentials.has_apns and credentials.has_fcm
    assert b"PRIVATE" not in bytes(credentials.fcm_service_account_encrypted)
    bad = portal.post(url("push-app", tenant), {
        "apns_key": SimpleUploadedFile("AuthKey.p8", b"not a key")})
    assert bad.status_code == 400
    response = portal.post(url("push-reminders", tenant), {
        "enabled": "on", "interval_minutes": "120", "max_reminders": "4"})
    assert response.status_code == 302
    policy = ReminderPolicy.objects.get(tenant=tenant)
    assert (policy.interval_minutes, policy.max_reminders) == (120, 4)
    assert portal.post(url("push-reminders", tenant), {"interval_minutes": "1",
                                                        "max_reminders": "1"}).status_code == 400


def test_api_certificate_credentials_and_policy(api, tenant, pki, push_settings):
    assert api.get("/api/v1/apns-certificate/current/").status_code == 404
    response = api.put("/api/v1/apns-certificate/current/", {
        "certificate": base64.b64encode(pki.push_p12).decode(), "password": "secret"},
        format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["topic"] == TOPIC
    assert api.get("/api/v1/apns-certificate/current/").json()["topic"] == TOPIC
    bad = api.put("/api/v1/apns-certificate/current/", {"certificate": "%%%"}, format="json")
    assert bad.status_code == 400

    response = api.patch("/api/v1/app-push-credentials/current/", {
        "apns_key_id": "KEY1234567", "apns_team_id": "TEAM123456",
        "apns_bundle_id": "com.example.agent", "apns_key": pki.app_key_pem.decode(),
        "fcm_service_account": pki.service_account("https://oauth2.googleapis.com/token")},
        format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["has_apns"] and body["has_fcm"] and "apns_key" not in body
    assert api.patch("/api/v1/app-push-credentials/current/",
                     {"fcm_service_account": {"type": "x"}}, format="json").status_code == 400
    nul = {**pki.service_account("https://oauth2.googleapis.com/token"), "project_id": "a\x00b"}
    assert api.patch("/api/v1/app-push-credentials/current/", {"fcm_service_account": nul},
                     format="json").status_code == 400  # not a text column's 500

    assert api.get("/api/v1/reminder-policy/current/").json()["interval_minutes"] == 240
    response = api.patch("/api/v1/reminder-policy/current/", {"max_reminders": 5},
                         format="json")
    assert response.json()["max_reminders"] == 5
    assert api.patch("/api/v1/reminder-policy/current/", {"interval_minutes": 0},
                     format="json").status_code == 400


def test_api_push_attempts_are_tenant_scoped(api, other_api, tenant, apns_ready, apns_server):
    from devices.push import service

    (channel,) = make_devices(tenant, 1)
    service.push_channels([channel.pk])
    listed = api.get(f"/api/v1/push-attempts/?device={channel.device_id}").json()
    assert listed["count"] == 1 and listed["results"][0]["result"] == "sent"
    assert other_api.get("/api/v1/push-attempts/").json()["count"] == 0
    attempt = PushAttempt.objects.get()
    assert other_api.get(f"/api/v1/push-attempts/{attempt.pk}/").status_code == 404


def test_api_push_devices(api, other_api, tenant, push_settings, monkeypatch):
    from devices import tasks

    (channel,) = make_devices(tenant, 1)
    queued = []
    monkeypatch.setattr(tasks.push_devices, "apply_async", lambda args, **kw: queued.append(args))
    body = {"devices": [channel.device_id]}
    assert api.post("/api/v1/push-attempts/push-devices/", body,
                    format="json").status_code == 409       # no certificate yet
    assert other_api.post("/api/v1/push-attempts/push-devices/", body,
                          format="json").status_code == 404  # not theirs


def test_device_page_include_shows_last_push_and_flag(tenant, apns_ready, apns_server):
    from devices.push import service

    (channel,) = make_devices(tenant, 1)
    device = channel.device
    assert "No push sent yet" in render_to_string("devices/_push_status.html",
                                                  {"device": device})
    apns_server.script(bytes(channel.push_token).hex(), 410)
    service.push_channels([channel.pk])
    html = render_to_string("devices/_push_status.html", {"device": device})
    assert "Unregistered" in html and "HTTP 410" in html and "Push token rejected" in html
    assert InvalidPushToken.objects.filter(device=device).exists()


def test_app_push_token_view(rf, tenant, jane):
    from rest_framework.test import APIRequestFactory, force_authenticate

    from devices.api.push import AppPushTokenView
    from enrollment.services.app_access import open_app_session

    opened = open_app_session(tenant, jane, "android", "14", None)
    view = AppPushTokenView.as_view()
    factory = APIRequestFactory()

    def put(data):
        request = factory.put("/", data, format="json")
        request.tenant = tenant
        force_authenticate(request, user=jane, token=opened.session)
        return view(request, tenant_slug=tenant.slug)

    assert put({"push_service": "fcm", "push_token": "fcm:abc-123_XYZ"}).status_code == 204
    opened.session.refresh_from_db()
    assert (opened.session.push_service, opened.session.push_token) == ("fcm", "fcm:abc-123_XYZ")
    assert put({"push_service": "apns", "push_token": "not-hex-token"}).status_code == 400
