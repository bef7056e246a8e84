"""Enrollment and configuration profiles against Apple's YAML schemas."""

from __future__ import annotations

import copy
import hashlib
import plistlib

import pytest

from profiles import mobileconfig as mc
from tests.base.apple.schema import check_dict, check_payload, check_profile, payload_keys

PROFILE_UUID = "6f1c1a1e-2b7d-4c1e-9a55-0d6c1f3b2a10"
ROOT_DER = b"0\x82\x01\x00fake-der-is-fine-here"
SCEP = mc.ScepSettings(
    url="https://mdm.example.com/scep/acme", challenge="one-time-secret",
    subject=[("O", "Acme"), ("OU", "Devices"), ("CN", "enrollment-42")],
    ca_fingerprint=hashlib.sha1(ROOT_DER).digest(), name="acme",
)
MDM = mc.MdmSettings(server_url="https://mdm.example.com/mdm/acme/server",
                     checkin_url="https://mdm.example.com/mdm/acme/checkin",
                     topic="com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9")


def enrollment(**overrides: object) -> dict:
    arguments: dict = {"organization": "Acme", "identifier": "com.example.acme.enroll",
                       "profile_uuid": PROFILE_UUID, "scep": SCEP, "mdm": MDM,
                       "root_ca_der": ROOT_DER, **overrides}
    return mc.build_enrollment_profile(**arguments)


def payload(profile: dict, payload_type: str) -> dict:
    (found,) = [p for p in profile["PayloadContent"] if p["PayloadType"] == payload_type]
    return found


@pytest.mark.parametrize("platform", list(mc.Platform))
def test_enrollment_profile_follows_apple_schemas(platform: mc.Platform) -> None:
    profile = enrollment(platform=platform)
    assert check_profile(profile) == []
    assert [p["PayloadType"] for p in profile["PayloadContent"]] == [
        "com.apple.security.root", "com.apple.security.scep", "com.apple.mdm"]


def test_enrollment_profile_values() -> None:
    profile = enrollment()
    assert (profile["PayloadType"], profile["PayloadVersion"]) == ("Configuration", 1)
    assert profile["PayloadIdentifier"] == "com.example.acme.enroll"
    assert profile["PayloadUUID"] == PROFILE_UUID.upper()
    assert profile["PayloadOrganization"] == "Acme"
    assert "PayloadScope" not in profile  # macOS only

    scep = payload(profile, "com.apple.security.scep")
    assert scep["PayloadContent"] == {
        "URL": "https://mdm.example.com/scep/acme", "Challenge": "one-time-secret",
        "Subject": [[["O", "Acme"]], [["OU", "Devices"]], [["CN", "enrollment-42"]]],
        "Keysize": 2048, "Key Type": "RSA", "Key Usage": 5, "Name": "acme",
        "CAFingerprint": hashlib.sha1(ROOT_DER).digest(),
    }
    mdm = payload(profile, "com.apple.mdm")
    assert mdm["IdentityCertificateUUID"] == scep["PayloadUUID"]
    assert {key: mdm[key] for key in ("Topic", "ServerURL", "CheckInURL", "SignMessage",
                                       "CheckOutWhenRemoved", "AccessRights")} == {
        "Topic": MDM.topic, "ServerURL": MDM.server_url, "CheckInURL": MDM.checkin_url,
        "SignMessage": True, "CheckOutWhenRemoved": True, "AccessRights": 8191}
    assert "ServerCapabilities" not in mdm
    root = payload(profile, "com.apple.security.root")
    assert root["PayloadContent"] == ROOT_DER

    for item in profile["PayloadContent"]:
        assert item["PayloadVersion"] == 1
        assert item["PayloadIdentifier"].startswith("com.example.acme.enroll.")
    assert len({p["PayloadUUID"] for p in profile["PayloadContent"]} | {PROFILE_UUID}) == 4
    assert len({p["PayloadIdentifier"] for p in profile["PayloadContent"]}) == 3


def test_macos_enrollment_profile() -> None:
    profile = enrollment(platform="macos")
    assert profile["PayloadScope"] == "System"
    assert payload(profile, "com.apple.mdm")["ServerCapabilities"] == [
        "com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken"]


def test_minimal_enrollment_profile() -> None:
    profile = enrollment(
        root_ca_der=None,
        scep=mc.ScepSettings(url="http://scep.example.com/scep", challenge="",
                             subject=[("CN", "x")]),
        mdm=mc.MdmSettings(server_url="https://mdm.example.com/s", topic="com.apple.mgmt.t",
                           sign_message=False, check_out_when_removed=False, access_rights=3))
    assert check_profile(profile) == []
    assert [p["PayloadType"] for p in profile["PayloadContent"]] == [
        "com.apple.security.scep", "com.apple.mdm"]
    scep = payload(profile, "com.apple.security.scep")["PayloadContent"]
    assert "Challenge" not in scep and "CAFingerprint" not in scep and "Name" not in scep
    mdm = payload(profile, "com.apple.mdm")
    assert "CheckInURL" not in mdm and mdm["SignMessage"] is False


def test_serialize_round_trip_and_determinism() -> None:
    data = mc.serialize(enrollment())
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')
    assert plistlib.loads(data) == enrollment()
    assert mc.serialize(enrollment()) == data  # same inputs, same bytes
    assert mc.serialize(enrollment(profile_uuid="00000000-0000-4000-8000-000000000001")) != data


@pytest.mark.parametrize("overrides,message", [
    ({"profile_uuid": "not-a-uuid"}, "UUID"),
    ({"platform": "android"}, "android"),
    ({"scep": mc.ScepSettings(url="https://s", challenge="c", subject=[("E", "x@y")])}, "'E'"),
    ({"scep": mc.ScepSettings(url="https://s", challenge="c", subject=[])}, "at least one"),
    ({"scep": mc.ScepSettings(url="https://s", challenge="c", subject=[("CN", "")])}, "value"),
    ({"scep": mc.ScepSettings(url="https://s", challenge="c", subject=[("CN", "x")],
                              key_size=3072)}, "key_size"),
    ({"scep": mc.ScepSettings(url="https://s", challenge="c", subject=[("CN", "x")],
                              key_usage=2)}, "key_usage"),
    ({"scep": mc.ScepSettings(url="ftp://s", challenge="c", subject=[("CN", "x")])}, "http"),
    ({"mdm": mc.MdmSettings(server_url="http://mdm", topic=MDM.topic)}, "https"),
    ({"mdm": mc.MdmSettings(server_url=MDM.server_url, topic=MDM.topic,
                            checkin_url="http://x")}, "https"),
    ({"mdm": mc.MdmSettings(server_url=MDM.server_url, topic="com.example.push")}, "topic"),
    ({"mdm": mc.MdmSettings(server_url=MDM.server_url, topic=MDM.topic, access_rights=0)},
     "AccessRights"),
    ({"mdm": mc.MdmSettings(server_url=MDM.server_url, topic=MDM.topic, access_rights=2)},
     "AccessRights"),
    ({"mdm": mc.MdmSettings(server_url=MDM.server_url, topic=MDM.topic, access_rights=129)},
     "AccessRights"),
    ({"mdm": mc.MdmSettings(server_url=MDM.server_url, topic=MDM.topic, access_rights=8192)},
     "AccessRights"),
])
def test_enrollment_profile_rejects_bad_settings(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        enrollment(**overrides)


# --- the schema checker must catch mistakes (else the tests above prove nothing) ------------

@pytest.mark.parametrize("mutate,problem", [
    (lambda p: payload(p, "com.apple.security.scep")["PayloadContent"].update(Keysize="2048"),
     "expected <integer>"),
    (lambda p: payload(p, "com.apple.security.scep")["PayloadContent"].update(Keysize=3000),
     "not in"),
    (lambda p: payload(p, "com.apple.security.scep")["PayloadContent"].update(Keysize=True),
     "expected <integer>"),
    (lambda p: payload(p, "com.apple.security.scep")["PayloadContent"].pop("URL"),
     "required key missing"),
    (lambda p: payload(p, "com.apple.security.scep")["PayloadContent"]["Subject"][0][0].append(
        "extra"), "3 items"),
    (lambda p: payload(p, "com.apple.security.scep")["PayloadContent"].update(KeyType="RSA"),
     "not in the schema"),
    (lambda p: payload(p, "com.apple.mdm").pop("Topic"), "required key missing"),
    (lambda p: payload(p, "com.apple.mdm").update(ServerURL="http://x"), "does not match"),
    (lambda p: payload(p, "com.apple.mdm").update(IdentityCertificateUUID="x"),
     "does not match"),
    (lambda p: payload(p, "com.apple.mdm").update(ServerCapabilities=["com.apple.mdm.nope"]),
     "not in"),
    (lambda p: payload(p, "com.apple.mdm").update(PayloadVersion=2), "not in"),
    (lambda p: payload(p, "com.apple.security.root").update(PayloadContent="PEM"),
     "expected <data>"),
    (lambda p: p.update(PayloadType="Profile"), "not in"),
    (lambda p: p.update(PayloadScope="Device"), "not in"),
    (lambda p: p.pop("PayloadUUID"), "required key missing"),
])
def test_schema_checker_catches_mistakes(mutate, problem: str) -> None:
    profile = copy.deepcopy(enrollment())
    mutate(profile)
    problems = check_profile(profile)
    assert problems and any(problem in p for p in problems), problems


def test_schema_files_describe_what_we_check() -> None:
    keys = {spec["key"] for spec in payload_keys("mdm/profiles/com.apple.mdm.yaml")}
    assert {"IdentityCertificateUUID", "Topic", "ServerURL", "CheckInURL", "SignMessage",
            "AccessRights", "CheckOutWhenRemoved", "ServerCapabilities"} <= keys
    assert check_dict({}, payload_keys("mdm/profiles/com.apple.security.root.yaml")) == [
        ".PayloadContent: required key missing"]


# --- admin-defined profiles -----------------------------------------------------------------

def test_configuration_profile_fills_payload_keys() -> None:
    profile = mc.build_configuration_profile(
        "Trust", "com.example.trust",
        [mc.root_certificate_payload(b"a"), mc.root_certificate_payload(b"b"),
         {"PayloadType": "com.apple.security.root", "PayloadContent": b"c",
          "PayloadIdentifier": "custom.id", "PayloadVersion": 1}],
        "User", profile_uuid=PROFILE_UUID, organization="Acme", description="Root CAs")
    assert check_profile(profile) == []
    assert profile["PayloadScope"] == "User"
    assert profile["PayloadDescription"] == "Root CAs"
    assert [p["PayloadIdentifier"] for p in profile["PayloadContent"]] == [
        "com.example.trust.com.apple.security.root",
        "com.example.trust.com.apple.security.root.2", "custom.id"]
    assert len({p["PayloadUUID"] for p in profile["PayloadContent"]}) == 3
    for item in profile["PayloadContent"]:
        assert check_payload(item) == []


def test_configuration_profile_random_uuid_and_validation() -> None:
    first = mc.build_configuration_profile("A", "com.example.a", [])
    second = mc.build_configuration_profile("A", "com.example.a", [])
    assert first["PayloadUUID"] != second["PayloadUUID"]
    assert "PayloadScope" not in first and first["PayloadContent"] == []
    with pytest.raises(ValueError, match="PayloadType"):
        mc.build_configuration_profile("A", "com.example.a", [{"PayloadContent": b""}])
    with pytest.raises(ValueError, match="duplicate PayloadIdentifier"):
        mc.build_configuration_profile("A", "com.example.a", [
            {"PayloadType": "t", "PayloadIdentifier": "x"},
            {"PayloadType": "t", "PayloadIdentifier": "x"}])
    with pytest.raises(ValueError, match="duplicate PayloadUUID"):
        mc.build_configuration_profile("A", "com.example.a", [
            {"PayloadType": "t", "PayloadUUID": "u"}, {"PayloadType": "t", "PayloadUUID": "u"}])
    with pytest.raises(ValueError):
        mc.build_configuration_profile("A", "com.example.a", [], "Device")
    with pytest.raises(ValueError):
        mc.build_configuration_profile("", "com.example.a", [])


@pytest.mark.parametrize("url", ["http://localhost:8000/mdm", "http://127.0.0.1:41234/t/x",
                                 "http://[::1]:8000/mdm"])
def test_plain_http_only_for_loopback_development_servers(url: str) -> None:
    profile = enrollment(mdm=mc.MdmSettings(server_url=url, checkin_url=url, topic=MDM.topic))
    assert payload(profile, "com.apple.mdm")["ServerURL"] == url
    with pytest.raises(ValueError, match="https"):
        enrollment(mdm=mc.MdmSettings(server_url="http://localhost.example.com/mdm",
                                      topic=MDM.topic))


def test_enrollment_profile_under_an_intermediate_ca() -> None:
    """The root is trusted; the CAs between it and the device's issuer are installed as plain
    certificates (com.apple.security.pkcs1), each valid against Apple's schema."""
    profile = enrollment(intermediate_ca_ders=[b"0\x82issuing", b"0\x82middle"])
    assert check_profile(profile) == []
    assert [p["PayloadType"] for p in profile["PayloadContent"]] == [
        "com.apple.security.root", "com.apple.security.pkcs1", "com.apple.security.pkcs1",
        "com.apple.security.scep", "com.apple.mdm"]
    intermediates = [p for p in profile["PayloadContent"]
                     if p["PayloadType"] == "com.apple.security.pkcs1"]
    assert [p["PayloadContent"] for p in intermediates] == [b"0\x82issuing", b"0\x82middle"]
    assert len({p["PayloadIdentifier"] for p in profile["PayloadContent"]}) == 5
    assert len({p["PayloadUUID"] for p in profile["PayloadContent"]}) == 5
