"""Check-in and command-report decoding against recorded device plists, and command building."""

from __future__ import annotations

import contextlib
import datetime
import plistlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.apple import messages as m
from tests.base import FIXTURES_DIR
from tests.base.apple.schema import check_command, check_dict, payload_keys

CAPTURES = FIXTURES_DIR / "device-captures"
ALL_PLISTS = sorted(
    path for path in CAPTURES.rglob("*")
    if path.is_file() and path.suffix in (".xml", ".plist")
)
# Commandment redacted some <data> values to "Base64=", which is not valid base64.
REDACTED = {"commandment/TokenUpdate/iOS-11.3.1.xml",
            "commandment/CertificateList/iOS-11.3.1.xml"}
CHECKIN_SCHEMAS = {
    "Authenticate": "authenticate.yaml", "TokenUpdate": "tokenupdate.yaml",
    "CheckOut": "checkout.yaml", "UserAuthenticate": "userauthenticate.yaml",
    "SetBootstrapToken": "setbootstraptoken.yaml", "GetBootstrapToken": "getbootstraptoken.yaml",
    "DeclarativeManagement": "declarativemanagement.yaml",
}


def rel(path: Path) -> str:
    return path.relative_to(CAPTURES).as_posix()


def repaired(path: Path) -> bytes:
    """The capture with its redacted placeholders made valid base64."""
    return re.sub(rb"<data>\s*Base64=\s*</data>", b"<data>QmFzZTY0</data>", path.read_bytes())


def is_checkin(body: bytes) -> bool:
    return b"<key>MessageType</key>" in body


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def plist(**keys: object) -> bytes:
    return plistlib.dumps(keys, fmt=plistlib.FMT_XML)


# --- every capture --------------------------------------------------------------------------

def test_all_captures_are_present() -> None:
    assert len(ALL_PLISTS) == 42
    assert sum(is_checkin(path.read_bytes()) for path in ALL_PLISTS) == 16


@pytest.mark.parametrize("path", ALL_PLISTS, ids=rel)
def test_every_capture_decodes(path: Path) -> None:
    if rel(path) in REDACTED:
        decode = m.decode_checkin if is_checkin(path.read_bytes()) else m.decode_command_report
        with pytest.raises(m.MalformedMessage, match="not an XML plist"):
            decode(path.read_bytes())
    body = repaired(path)
    raw = plistlib.loads(body)
    if is_checkin(body):
        message = m.decode_checkin(body)
        assert type(message).__name__ == raw["MessageType"] == message.message_type
        assert message.topic == raw["Topic"]
    else:
        message = m.decode_command_report(body)
        assert message.status == raw["Status"]
        assert message.command_uuid == raw["CommandUUID"]
        assert message.request_type == raw.get("RequestType")
        assert len(message.error_chain) == len(raw.get("ErrorChain", []))
    assert message.raw == raw
    assert message.udid == raw["UDID"] == message.device_id
    assert message.is_user_channel == ("UserID" in raw)


@pytest.mark.parametrize(
    "path", [p for p in ALL_PLISTS if is_checkin(p.read_bytes())], ids=rel)
def test_checkin_captures_match_apple_key_types(path: Path) -> None:
    """What devices send has the types Apple's schema gives (presence is not checked: iOS
    omits DeviceName/Model/ModelName, and UDID/EnrollmentID are alternatives)."""
    raw = plistlib.loads(repaired(path))
    keys = payload_keys(f"mdm/checkin/{CHECKIN_SCHEMAS[raw['MessageType']]}")
    assert check_dict(raw, keys, raw["MessageType"], required=False, allow_unknown=True) == []


# --- check-in values ------------------------------------------------------------------------

def test_authenticate_ios9_without_model() -> None:
    message = m.decode_checkin(capture("commandment/Authenticate/IOS-9.x.xml"))
    assert isinstance(message, m.Authenticate)
    assert (message.os_version, message.build_version, message.product_name) == (
        "9.3.2", "13F69", "iPad4,1")
    assert message.model is message.model_name is message.device_name is None
    assert message.serial_number == "XXXXXXXXXXXX"
    assert message.channel_id == "1111111111111111111111111111111111111111"
    assert not message.is_user_channel


def test_authenticate_cellular_ios11() -> None:
    message = m.decode_checkin(capture("commandment/Authenticate/iOS-11.3.1-cell.xml"))
    assert (message.imei, message.meid, message.product_name) == (
        "11 111111 111111 1", "1111111111111", "iPhone7,2")


def test_authenticate_macos() -> None:
    message = m.decode_checkin(capture("commandment/Authenticate/10.12.2.xml"))
    assert (message.model, message.model_name, message.device_name, message.os_version) == (
        "iMac17,1", "iMac", "commandment", "10.12.2")
    assert message.topic == "com.apple.mgmt.commandment.dev"
    assert message.raw["Challenge"] == b"apple"  # unmodelled keys stay in raw


@pytest.mark.parametrize("name", ["TokenUpdate.1", "TokenUpdate.2", "DeviceInformation.1"])
def test_nanomdm_expected_device_values(name: str) -> None:
    """NanoMDM's ``X.txt``: the device row stored for the device that sent ``X.plist``, i.e.
    the values of that device's Authenticate."""
    udid = plistlib.loads(capture(f"nanomdm/{name}.plist"))["UDID"]
    authenticates = [m.decode_checkin(capture(f"nanomdm/Authenticate.{n}.plist")) for n in (1, 2)]
    (device,) = [a for a in authenticates if a.udid == udid]
    expected = dict(line.split("\t") for line in
                    (CAPTURES / f"nanomdm/{name}.txt").read_text().splitlines() if line)
    assert expected == {"BuildVersion": device.build_version,
                        "OSVersion": device.os_version, "ProductName": device.product_name}


def test_token_update_device_channel_with_unlock_token() -> None:
    message = m.decode_checkin(capture("nanomdm/TokenUpdate.1.plist"))
    assert isinstance(message, m.TokenUpdate)
    assert message.token == plistlib.loads(capture("nanomdm/TokenUpdate.1.plist"))["Token"]
    assert len(message.token) == 32
    assert message.push_magic == "CEFDF0BD-E342-4A27-8742-E930EA116B0A"
    assert message.unlock_token is not None and message.unlock_token.startswith(b"DATA")
    assert message.awaiting_configuration is False
    assert message.not_on_console is None
    for secret in (message.push_magic, str(message.token), str(message.unlock_token)[:20]):
        assert secret not in repr(message)  # push secrets stay out of logs


@pytest.mark.parametrize("name,user_id,short,long", [
    ("10.11.x-user.plist", "00000000-1111-2222-3333-444455556666", "admin", "Administrator"),
    ("10.12.2-user.xml", "A522C2FB-D0BA-487E-BBC6-BE0DB2DC7883", "cjoe", "Commando Joe"),
])
def test_token_update_user_channel(name: str, user_id: str, short: str, long: str) -> None:
    message = m.decode_checkin(capture(f"commandment/TokenUpdate/{name}"))
    assert isinstance(message, m.TokenUpdate)
    assert message.is_user_channel
    assert (message.user_id, message.user_short_name, message.user_long_name) == (
        user_id, short, long)
    assert message.channel_id == f"{message.udid}:{user_id}"
    assert message.not_on_console is False
    assert message.unlock_token is None


def test_check_out() -> None:
    message = m.decode_checkin(capture("commandment/CheckOut/iOS-11.3.1.xml"))
    assert isinstance(message, m.CheckOut)
    assert message.topic == "com.apple.mgmt.XServer.1c111c11-1c11-1c11-1c11-1c111c111c11"


def test_user_authenticate_first_and_second_request() -> None:
    first = m.decode_checkin(plist(MessageType="UserAuthenticate", UDID="D", UserID="U"))
    second = m.decode_checkin(plist(MessageType="UserAuthenticate", UDID="D", UserID="U",
                                    UserShortName="jo", UserLongName="Jo", DigestResponse="x"))
    assert isinstance(first, m.UserAuthenticate) and first.digest_response is None
    assert second.digest_response == "x" and second.user_long_name == "Jo"
    assert first.channel_id == "D:U"


def test_bootstrap_token_messages() -> None:
    set_token = m.decode_checkin(plist(MessageType="SetBootstrapToken", UDID="D",
                                       BootstrapToken=b"secret", AwaitingConfiguration=True))
    removal = m.decode_checkin(plist(MessageType="SetBootstrapToken", UDID="D"))
    get_token = m.decode_checkin(plist(MessageType="GetBootstrapToken", UDID="D"))
    assert isinstance(set_token, m.SetBootstrapToken)
    assert (set_token.bootstrap_token, set_token.awaiting_configuration) == (b"secret", True)
    assert removal.bootstrap_token is None
    assert isinstance(get_token, m.GetBootstrapToken) and not get_token.awaiting_configuration
    assert "secret" not in repr(set_token)


def test_declarative_management_and_user_enrollment_ids() -> None:
    message = m.decode_checkin(plist(MessageType="DeclarativeManagement", EnrollmentID="E",
                                     EnrollmentUserID="EU", Endpoint="tokens", Data=b"{}"))
    assert isinstance(message, m.DeclarativeManagement)
    assert (message.endpoint, message.data, message.udid) == ("tokens", b"{}", None)
    assert message.device_id == "E" and message.channel_id == "E:EU"


def test_shared_ipad_user_channel_is_named_by_short_name() -> None:
    message = m.decode_checkin(plist(
        MessageType="TokenUpdate", UDID="D", Topic="com.apple.mgmt.x", Token=b"t",
        PushMagic="p", UserID=m.SHARED_IPAD_USER_ID, UserShortName="jo@example.com"))
    assert message.channel_id == "D:jo@example.com"


# --- command reports ------------------------------------------------------------------------

def test_idle_needs_no_command_uuid() -> None:
    report = m.decode_command_report(plist(Status="Idle", UDID="D", UserID="U"))
    assert report.status is m.CommandStatus.IDLE and report.command_uuid is None
    assert report.is_user_channel and report.channel_id == "D:U"


def test_not_now_and_command_format_error() -> None:
    not_now = m.decode_command_report(capture("commandment/NotNow/iOS-11.3.1.xml"))
    format_error = m.decode_command_report(
        capture("commandment/Errors/iOS-11.3.1-CommandFormatError.xml"))
    assert not_now.status is m.CommandStatus.NOT_NOW
    assert not_now.command_uuid == "bb5d7813-e7c3-4279-b954-4b678925de5f"
    assert format_error.status is m.CommandStatus.COMMAND_FORMAT_ERROR


def test_error_chain() -> None:
    report = m.decode_command_report(
        capture("commandment/Errors/iOS-11.3.1-AvailableOSUpdatesFailure.xml"))
    assert report.status is m.CommandStatus.ERROR
    assert [(e.error_code, e.error_domain) for e in report.error_chain] == [
        (2213, "DeviceManagement.error"), (3, "com.apple.softwareupdateservices.errors")]
    assert report.error_chain[0].localized_description == "No update available."
    english = m.decode_command_report(
        capture("commandment/Errors/error_invalid_request_type.plist"))
    assert english.error_chain[0].us_english_description.endswith("is not a valid request type.")


def test_device_lock_result_keeps_message_result_raw() -> None:
    report = m.decode_command_report(capture("commandment/DeviceLock/iOS-11.3.1.xml"))
    assert report.status is m.CommandStatus.ACKNOWLEDGED
    assert report.raw["MessageResult"] == "NoPasscodeSet"


@pytest.mark.parametrize("name,expected", [
    ("commandment/DeviceInformation/10.11.x.xml", m.DeviceInformation(
        udid="00000000-1111-2222-3333-444455556666", serial_number="C00000000004",
        device_name="micromdm-testing", model="iMac15,1", model_name="iMac",
        product_name="iMac15,1", os_version="10.11.6", build_version="15G1004", imei=None,
        meid=None)),
    ("commandment/DeviceInformation/iOS-11.3.1.xml", m.DeviceInformation(
        udid="1c111c111c111c111c111c111c111c111c111c11", serial_number="C00000000004",
        device_name="iPad", model="MD786X", model_name="iPad", product_name="iPad4,1",
        os_version="11.3.1", build_version="15E302", imei=None, meid=None)),
    ("commandment/DeviceInformation/macOS-10.13.1.xml", m.DeviceInformation(
        udid="00000000-1111-2222-3333-444455556666", serial_number="AB123CD45G",
        device_name="commandment", model="MacPro6,1", model_name="Mac Pro",
        product_name="MacPro6,1", os_version="10.13.1", build_version="17B48", imei=None,
        meid=None)),
    ("nanomdm/DeviceInformation.1.plist", m.DeviceInformation(
        udid="66ADE930-5FDF-5EC4-8429-15640684C489", serial_number=None, device_name=None,
        model=None, model_name=None, product_name=None, os_version=None, build_version=None,
        imei=None, meid=None)),
])
def test_parse_device_information(name: str, expected: m.DeviceInformation) -> None:
    report = m.decode_command_report(capture(name))
    answers = report.raw["QueryResponses"]
    summary = m.parse_device_information(report)
    assert summary.os_version == answers.get("OSVersion")  # the table above matches the plist
    assert summary == expected


def test_parse_device_information_errors() -> None:
    with pytest.raises(m.MissingKey, match="QueryResponses"):
        m.parse_device_information(m.decode_command_report(
            capture("commandment/NotNow/iOS-11.3.1.xml")))
    report = m.decode_command_report(plist(Status="Acknowledged", UDID="D", CommandUUID="C",
                                           QueryResponses={"OSVersion": 17}))
    with pytest.raises(m.MalformedMessage, match="OSVersion"):
        m.parse_device_information(report)


# --- bad input ------------------------------------------------------------------------------

TOKEN_UPDATE = {"MessageType": "TokenUpdate", "UDID": "D", "Topic": "com.apple.mgmt.x",
                "Token": b"t", "PushMagic": "p"}


def without(source: dict, key: str) -> bytes:
    return plistlib.dumps({k: v for k, v in source.items() if k != key})


def replaced(source: dict, **changes: object) -> bytes:
    return plistlib.dumps({**source, **changes})


@pytest.mark.parametrize("body", [
    b"", b"garbage", b"<plist><dict><key>a</key></plist>", "str body",
    plistlib.dumps(TOKEN_UPDATE, fmt=plistlib.FMT_BINARY),  # devices send XML only
    plistlib.dumps(["MessageType", "TokenUpdate"]),
    b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "b">]><plist><string>&a;</string></plist>',
    replaced(TOKEN_UPDATE, MessageType=1),
    replaced(TOKEN_UPDATE, Token="not data"),
    replaced(TOKEN_UPDATE, UDID=12),
    replaced(TOKEN_UPDATE, AwaitingConfiguration="yes"),
    replaced(TOKEN_UPDATE, UserID=["U"]),
    replaced({**TOKEN_UPDATE, "MessageType": "Authenticate"}, SerialNumber=b"S"),
])
def test_malformed_checkin(body: bytes) -> None:
    with pytest.raises(m.MalformedMessage):
        m.decode_checkin(body)


@pytest.mark.parametrize("body,key", [
    (without(TOKEN_UPDATE, "MessageType"), "MessageType"),
    (without(TOKEN_UPDATE, "Token"), "Token"),
    (replaced(TOKEN_UPDATE, Token=b""), "Token"),
    (without(TOKEN_UPDATE, "PushMagic"), "PushMagic"),
    (without(TOKEN_UPDATE, "Topic"), "Topic"),
    (without(TOKEN_UPDATE, "UDID"), "UDID"),
    (replaced(TOKEN_UPDATE, UDID=""), "UDID"),
    (plist(MessageType="CheckOut", UDID="D"), "Topic"),
    (plist(MessageType="UserAuthenticate", UDID="D"), "UserID"),
    (plist(MessageType="DeclarativeManagement", UDID="D"), "Endpoint"),
])
def test_missing_key(body: bytes, key: str) -> None:
    with pytest.raises(m.MissingKey) as caught:
        m.decode_checkin(body)
    assert caught.value.key == key


@pytest.mark.parametrize("name", ["GetToken", "Bogus", ""])
def test_unknown_message_type(name: str) -> None:
    with pytest.raises(m.UnknownMessageType) as caught:
        m.decode_checkin(replaced(TOKEN_UPDATE, MessageType=name))
    assert caught.value.name == name


@pytest.mark.parametrize("body,error", [
    (plist(UDID="D", CommandUUID="C"), m.MissingKey),
    (plist(Status="Done", UDID="D", CommandUUID="C"), m.MalformedMessage),
    (plist(Status="Acknowledged", UDID="D"), m.MissingKey),
    (plist(Status="Acknowledged", CommandUUID="C"), m.MissingKey),
    (plist(Status="Error", UDID="D", CommandUUID="C", ErrorChain="x"), m.MalformedMessage),
    (plist(Status="Error", UDID="D", CommandUUID="C", ErrorChain=["x"]), m.MalformedMessage),
    (plist(Status="Error", UDID="D", CommandUUID="C", ErrorChain=[{"ErrorCode": "1"}]),
     m.MalformedMessage),
    (plist(Status="Error", UDID="D", CommandUUID="C", ErrorChain=[{"ErrorCode": True}]),
     m.MalformedMessage),
    (b"\x00\x01", m.MalformedMessage),
])
def test_bad_command_report(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        m.decode_command_report(body)


# --- fuzz: only typed errors, whatever the input ----------------------------------------------

KNOWN_KEYS = ["MessageType", "UDID", "EnrollmentID", "EnrollmentUserID", "UserID",
              "UserShortName", "UserLongName", "Topic", "Token", "PushMagic", "UnlockToken",
              "AwaitingConfiguration", "NotOnConsole", "BootstrapToken", "DigestResponse",
              "Endpoint", "Data", "Status", "CommandUUID", "ErrorChain", "RequestType",
              "QueryResponses", "ErrorCode"]
xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)
scalars = (xml_text | st.integers(-(2**63), 2**63 - 1) | st.booleans()
           | st.binary(max_size=8) | st.floats(allow_nan=False)
           | st.datetimes(min_value=datetime.datetime(1900, 1, 1),
                          max_value=datetime.datetime(2100, 1, 1))
           | st.sampled_from([*m.CHECKIN_MESSAGE_TYPES, *m.CommandStatus]))
plist_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(KNOWN_KEYS), inner, max_size=3), max_leaves=8)
plist_dicts = st.dictionaries(st.sampled_from(KNOWN_KEYS) | xml_text, plist_values,
                              max_size=10)


def decode_both(body: bytes) -> None:
    for decode in (m.decode_checkin, m.decode_command_report):
        try:
            message = decode(body)
        except m.MessageError:
            continue
        if isinstance(message, m.CommandReport) and message.raw.get("QueryResponses") is not None:
            with contextlib.suppress(m.MessageError):
                m.parse_device_information(message)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_bytes(body: bytes) -> None:
    decode_both(body)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(plist_dicts)
def test_fuzz_plist_dicts(raw: dict) -> None:
    decode_both(plistlib.dumps(raw, fmt=plistlib.FMT_XML))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_PLISTS), st.data())
def test_fuzz_mutated_captures(path: Path, data: st.DataObject) -> None:
    body = repaired(path)
    start = data.draw(st.integers(0, len(body)))
    end = data.draw(st.integers(start, min(len(body), start + 40)))
    decode_both(body[:start] + data.draw(st.binary(max_size=12)) + body[end:])


# --- the flat-plist fast path ---------------------------------------------------------------

def plistlib_or_none(body: bytes):
    try:
        return plistlib.loads(body, fmt=plistlib.FMT_XML)
    except Exception:  # any refusal counts as "not a plist"
        return None


def assert_fast_path_agrees(body: bytes) -> None:
    """Whenever the fast path reads a body, plistlib reads it to the same dictionary."""
    fast = m._flat_plist(body)
    if fast is not None:
        assert plistlib_or_none(body) == fast, body


def test_fast_path_reads_an_idle_and_the_captures_it_can() -> None:
    idle = plistlib.dumps({"UDID": "0000-1", "Status": "Idle", "EnrollmentID": "e"})
    assert m._flat_plist(idle) == {"UDID": "0000-1", "Status": "Idle", "EnrollmentID": "e"}
    read = 0
    for path in ALL_PLISTS:
        body = repaired(path)
        assert_fast_path_agrees(body)
        read += m._flat_plist(body) is not None
    assert read > 0  # e.g. the captured Idle and CheckOut bodies


@pytest.mark.parametrize("body", [
    b'<plist version="1.0"><dict><key>A</key><string>x&amp;y</string></dict></plist>',
    b'<plist version="1.0"><dict><key>A</key><string>x\r\ny</string></dict></plist>',
    b'<plist version="1.0"><dict><key>A</key><string>\xc3\xa9</string></dict></plist>',
    b'<plist version="1.0"><dict><key>A</key><integer>1</integer></dict></plist>',
    b'<plist version="1.0"><dict><key>A</key><string/></dict></plist>',
    b' <?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict></dict></plist>',
    b'<?xml version="1.0" encoding="ISO-8859-1"?><plist version="1.0"><dict></dict></plist>',
    b'<!DOCTYPE plist [<!ENTITY e "x">]><plist version="1.0"><dict></dict></plist>',
    b'<plist version="1.0"><dict><!-- c --></dict></plist>',
    b'<plist version="1.0"><dict><key>A</key></dict></plist>',
])
def test_fast_path_leaves_everything_else_to_plistlib(body: bytes) -> None:
    assert m._flat_plist(body) is None


flat_text = st.text(st.sampled_from([chr(c) for c in range(0x20, 0x7F)] + ["\t", "\n", "\r"]),
                    max_size=12)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(flat_text, flat_text, max_size=6), st.data())
def test_fuzz_fast_path_agrees_with_plistlib(raw: dict, data: st.DataObject) -> None:
    body = plistlib.dumps(raw, fmt=plistlib.FMT_XML)
    if raw and not any(c in text for text in (*raw, *raw.values()) for c in "<>&\r"):
        assert m._flat_plist(body) == raw
    assert_fast_path_agrees(body)
    start = data.draw(st.integers(0, len(body)))
    end = data.draw(st.integers(start, min(len(body), start + 20)))
    assert_fast_path_agrees(body[:start] + data.draw(st.binary(max_size=8)) + body[end:])


# --- commands -------------------------------------------------------------------------------

def command_of(body: bytes, uuid: str = "C-1") -> dict:
    decoded = plistlib.loads(body)
    assert decoded["CommandUUID"] == uuid
    assert set(decoded) == {"CommandUUID", "Command"}
    return decoded["Command"]


@pytest.mark.parametrize("body,schema_file,expected", [
    (m.device_information_command("C-1"), "information.device.yaml",
     {"RequestType": "DeviceInformation", "Queries": list(m.DEVICE_INFORMATION_QUERIES)}),
    (m.device_information_command("C-1", ["UDID"]), "information.device.yaml",
     {"RequestType": "DeviceInformation", "Queries": ["UDID"]}),
    (m.profile_list_command("C-1"), "profile.list.yaml", {"RequestType": "ProfileList"}),
    (m.profile_list_command("C-1", managed_only=True), "profile.list.yaml",
     {"RequestType": "ProfileList", "ManagedOnly": True}),
    (m.install_profile_command("C-1", b"<plist/>"), "profile.install.yaml",
     {"RequestType": "InstallProfile", "Payload": b"<plist/>"}),
    (m.remove_profile_command("C-1", "com.example.wifi"), "profile.remove.yaml",
     {"RequestType": "RemoveProfile", "Identifier": "com.example.wifi"}),
    (m.device_lock_command("C-1"), "device.lock.yaml", {"RequestType": "DeviceLock"}),
    (m.device_lock_command("C-1", pin="123456", message="Lost", phone_number="+1 555"),
     "device.lock.yaml", {"RequestType": "DeviceLock", "PIN": "123456", "Message": "Lost",
                          "PhoneNumber": "+1 555"}),
    (m.erase_device_command("C-1"), "device.erase.yaml", {"RequestType": "EraseDevice"}),
    (m.erase_device_command("C-1", pin="654321", preserve_data_plan=True), "device.erase.yaml",
     {"RequestType": "EraseDevice", "PIN": "654321", "PreserveDataPlan": True}),
])
def test_commands_follow_apple_schema(body: bytes, schema_file: str, expected: dict) -> None:
    command = command_of(body)
    assert command == expected
    assert check_command(command, schema_file) == []


def test_schema_checker_catches_bad_commands() -> None:
    assert check_command({"RequestType": "DeviceInformation", "Queries": ["Nope"]},
                         "information.device.yaml")
    assert check_command({"RequestType": "DeviceInformation"}, "information.device.yaml")
    assert check_command({"RequestType": "RemoveProfile", "Identifier": 1}, "profile.remove.yaml")
    assert check_command({"RequestType": "DeviceLock", "Pin": "1"}, "device.lock.yaml")


def test_build_command_generic_and_validation() -> None:
    assert command_of(m.build_command("Restart", "C-1")) == {"RequestType": "Restart"}
    assert command_of(m.build_command("Settings", "C-1", {"Settings": []})) == {
        "RequestType": "Settings", "Settings": []}
    with pytest.raises(ValueError):
        m.build_command("X", "C-1", {"RequestType": "Y"})
    with pytest.raises(ValueError):
        m.build_command("", "C-1")
    with pytest.raises(ValueError):
        m.build_command("X", "")
    for pin in ("12345", "1234567", "abcdef", "１２３４５６"):
        with pytest.raises(ValueError, match="six digits"):
            m.device_lock_command("C-1", pin=pin)
    with pytest.raises(ValueError):
        m.install_profile_command("C-1", b"")
    with pytest.raises(ValueError):
        m.remove_profile_command("C-1", "")
