"""The APNs and FCM clients against loopback servers: headers, topic, push type, client
certificate or JWT, scripted answers, one connection reused, backoff."""

from __future__ import annotations

import json
import secrets

import pytest

from devices.push import apns, fcm
from tests.base.push.pki import TOPIC


def mdm_client(pki, server, **kwargs) -> apns.ApnsClient:
    context = apns.client_ssl_context(pki.push_cert_pem, pki.push_key_pem,
                                      ca_file=str(pki.ca_file))
    return apns.ApnsClient(server.url, context, backoff_seconds=0.001, **kwargs)


def test_mdm_push_sends_topic_type_and_client_certificate(pki, apns_server):
    client = mdm_client(pki, apns_server)
    token = secrets.token_bytes(32)
    answer = client.send(apns.mdm_notification(token, "MAGIC-1", TOPIC))
    client.close()
    assert (answer.status, answer.result, answer.tries) == (200, "sent", 1)
    assert answer.apns_id
    (request,) = apns_server.requests
    assert request.path == f"/3/device/{token.hex()}"
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "mdm"
    assert request.client_topic == TOPIC
    assert json.loads(request.body) == {"mdm": "MAGIC-1"}


def test_without_client_certificate_apns_refuses(pki, apns_server):
    context = apns.client_ssl_context(None, None, ca_file=str(pki.ca_file))
    client = apns.ApnsClient(apns_server.url, context)
    answer = client.send(apns.mdm_notification(b"\x01" * 32, "M", TOPIC))
    client.close()
    assert (answer.status, answer.reason, answer.result) == (403, "MissingProviderToken",
                                                             "failed")


def test_scripted_answers_and_retries(pki, apns_server):
    ok, bad, gone, busy, down = (secrets.token_hex(32) for _ in range(5))
    apns_server.script(bad, 400)
    apns_server.script(gone, 410)
    apns_server.script(busy, 429, 429)        # twice throttled, then accepted
    apns_server.script(down, 503, 503, 503)   # still unavailable after the retries
    client = mdm_client(pki, apns_server, max_retries=2)
    answers = client.send_many([apns.mdm_notification(t, "M", TOPIC)
                                for t in (ok, bad, gone, busy, down)])
    client.close()
    assert [a.result for a in answers] == ["sent", "bad_token", "unregistered", "sent",
                                           "server_error"]
    assert [a.tries for a in answers] == [1, 1, 1, 3, 3]
    assert answers[1].reason == "BadDeviceToken" and answers[2].reason == "Unregistered"


def test_backoff_grows_exponentially(pki, apns_server):
    token = secrets.token_hex(32)
    apns_server.script(token, 429, 500, 503)
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    client = mdm_client(pki, apns_server, max_retries=3, sleep=sleep)
    client.backoff_seconds = 0.5
    assert client.send(apns.mdm_notification(token, "M", TOPIC)).result == "sent"
    client.close()
    assert waits == [0.5, 1.0, 2.0]


def test_one_connection_per_client_across_many_pushes(pki, apns_server):
    client = mdm_client(pki, apns_server, concurrency=16)
    for _ in range(3):
        answers = client.send_many([apns.mdm_notification(secrets.token_bytes(32), "M", TOPIC)
                                    for _ in range(50)])
        assert {a.result for a in answers} == {"sent"}
    client.close()
    assert len(apns_server.requests) == 150
    assert apns_server.connections == 1


def test_client_for_reuses_the_client_of_a_topic(pki, apns_server):
    made = []

    def make():
        made.append(mdm_client(pki, apns_server))
        return made[-1]

    try:
        first = apns.client_for(("test", apns_server.url, TOPIC), make)
        second = apns.client_for(("test", apns_server.url, TOPIC), make)
        assert first is second and len(made) == 1
    finally:
        apns.close_clients()


def test_app_push_uses_es256_provider_token(pki, apns_server):
    clock = [1_000_000.0]
    token = apns.ProviderToken(pki.app_key_pem, "KEY1234567", "TEAM123456",
                               clock=lambda: clock[0])
    context = apns.client_ssl_context(None, None, ca_file=str(pki.ca_file))
    client = apns.ApnsClient(apns_server.url, context, provider_token=token)
    note = apns.alert_notification(secrets.token_hex(32), "com.example.agent", title="T",
                                   body="B", data={"registration_id": 1})
    assert client.send(note).result == "sent"
    assert client.send(note).result == "sent"
    assert len(apns_server.jwt_tokens_seen) == 1          # cached
    clock[0] += apns.JWT_REFRESH_SECONDS + 1
    assert client.send(note).result == "sent"
    assert len(apns_server.jwt_tokens_seen) == 2          # refreshed before the hour
    client.close()
    request = apns_server.requests[0]
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-topic"] == "com.example.agent"
    assert json.loads(request.body)["aps"]["alert"] == {"title": "T", "body": "B"}


def test_app_push_with_wrong_key_is_refused(pki, apns_server):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    context = apns.client_ssl_context(None, None, ca_file=str(pki.ca_file))
    client = apns.ApnsClient(apns_server.url, context,
                             provider_token=apns.ProviderToken(other, "KEY1234567",
                                                               "TEAM123456"))
    answer = client.send(apns.alert_notification(secrets.token_hex(32), "b", title="t",
                                                 body="b"))
    client.close()
    assert (answer.status, answer.reason) == (403, "InvalidProviderToken")


def test_certificate_loading(pki):
    from_p12 = apns.load_push_certificate(pki.push_p12, password="secret")
    from_pem = apns.load_push_certificate(pki.push_cert_pem + pki.push_key_pem)
    split_pem = apns.load_push_certificate(pki.push_cert_pem, key_data=pki.push_key_pem)
    assert from_p12.topic == from_pem.topic == split_pem.topic == TOPIC
    assert from_p12.not_after > from_p12.not_before
    with pytest.raises(apns.ApnsCertificateError, match="wrong password"):
        apns.load_push_certificate(pki.push_p12, password="nope")
    with pytest.raises(apns.ApnsCertificateError, match="private key is missing"):
        apns.load_push_certificate(pki.push_cert_pem)
    cert, _key = pki.push_certificate()
    with pytest.raises(apns.ApnsCertificateError, match="does not belong"):
        apns.load_push_certificate(cert + pki.push_key_pem)
    cert, key = pki.push_certificate(uid=False)
    with pytest.raises(apns.ApnsCertificateError, match="not an MDM push certificate"):
        apns.load_push_certificate(cert + key)


# --- FCM -------------------------------------------------------------------------------------

def test_fcm_sends_with_service_account_token(pki, fcm_server):
    client = fcm.FcmClient(pki.service_account(fcm_server.token_uri), base_url=fcm_server.url,
                           backoff_seconds=0.001)
    token = "fcm-" + secrets.token_hex(16)
    answer = client.send(fcm.FcmMessage(token, "Title", "Body", {"registration_id": "7"}))
    assert (answer.status, answer.result) == (200, "sent")
    assert answer.message_id.startswith("projects/demo-project/messages/")
    (message,) = fcm_server.messages
    assert message == {"token": token, "notification": {"title": "Title", "body": "Body"},
                       "data": {"registration_id": "7"}, "android": {"priority": "HIGH"}}
    client.send(fcm.FcmMessage(token, "T", "B"))
    assert fcm_server.token_requests == 1  # the access token is cached
    client.close()


def test_fcm_scripted_answers(pki, fcm_server):
    client = fcm.FcmClient(pki.service_account(fcm_server.token_uri), base_url=fcm_server.url,
                           backoff_seconds=0.001, max_retries=2)
    tokens = [f"t{i}" for i in range(5)]
    fcm_server.script("t1", 404)
    fcm_server.script("t2", 403)
    fcm_server.script("t3", 429, 503)
    fcm_server.script("t4", 500, 500, 500)
    answers = client.send_many([fcm.FcmMessage(t, "T", "B") for t in tokens])
    client.close()
    assert [a.result for a in answers] == ["sent", "unregistered", "bad_token", "sent",
                                           "server_error"]
    assert answers[1].error_code == "UNREGISTERED"
    assert [a.tries for a in answers] == [1, 1, 1, 3, 3]


def test_fcm_refreshes_a_revoked_access_token(pki, fcm_server):
    client = fcm.FcmClient(pki.service_account(fcm_server.token_uri), base_url=fcm_server.url)
    assert client.send(fcm.FcmMessage("a", "T", "B")).result == "sent"
    fcm_server.access_tokens.clear()  # the server forgets it: 401, refresh once, resend
    answer = client.send(fcm.FcmMessage("a", "T", "B"))
    client.close()
    assert (answer.result, answer.tries) == ("sent", 2)
    assert fcm_server.token_requests == 2


def test_fcm_rejects_a_bad_service_account(pki):
    info = pki.service_account("http://127.0.0.1:1/token")
    with pytest.raises(fcm.FcmCredentialsError, match="type service_account"):
        fcm.parse_service_account({**info, "type": "authorized_user"})
    with pytest.raises(fcm.FcmCredentialsError, match="project_id"):
        fcm.parse_service_account({**info, "project_id": ""})
