"""Signed but arbitrary check-in and ServerURL bodies: the answer is always one of the
protocol's (200, 400, 403, 410), never a server error."""

from __future__ import annotations

import plistlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.devices.conftest import enroll

pytestmark = pytest.mark.django_db

KEYS = ["MessageType", "UDID", "Topic", "Token", "PushMagic", "UnlockToken", "UserID",
        "UserShortName", "Status", "CommandUUID", "ErrorChain", "QueryResponses",
        "BootstrapToken", "RequestType", "EnrollmentID", "DigestResponse"]
VALUES = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=0xD7FF), max_size=20),
    st.binary(max_size=20), st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from(["Authenticate", "TokenUpdate", "CheckOut", "UserAuthenticate",
                     "SetBootstrapToken", "GetBootstrapToken", "Idle", "Acknowledged",
                     "Error", "NotNow", "DeviceInformation"]),
    st.lists(st.dictionaries(st.sampled_from(["ErrorCode", "ErrorDomain"]),
                             st.one_of(st.integers(0, 9), st.text("abc", max_size=5)), max_size=2),
             max_size=2),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(message=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8),
       keep_udid=st.booleans(), endpoint=st.sampled_from(["checkin", "server"]))
def test_arbitrary_signed_bodies_never_fail(iphone, message, keep_udid, endpoint):
    if not getattr(iphone, "_enrolled", False):
        enroll(iphone)
        iphone._enrolled = True
    if keep_udid:
        message["UDID"] = iphone.udid
    path = iphone.checkin_path if endpoint == "checkin" else iphone.server_path
    status, _ = iphone.send(path, plistlib.dumps(message))
    assert status in (200, 400, 403, 410)
