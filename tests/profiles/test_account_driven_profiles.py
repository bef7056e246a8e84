"""The account-driven enrollment profiles against Apple's schemas: BYOD (User Enrollment)
carries EnrollmentMode and AssignedManagedAppleID and no AccessRights; ADDE keeps them."""

from __future__ import annotations

import pytest

from profiles import mobileconfig as mc
from tests.base.apple.schema import check_profile
from tests.profiles.test_mobileconfig import MDM, enrollment, payload


def _account(mode: str, apple_id: str | None = "alice@acme.test") -> mc.MdmSettings:
    return mc.MdmSettings(server_url=MDM.server_url, checkin_url=MDM.checkin_url,
                          topic=MDM.topic, enrollment_mode=mode,
                          assigned_managed_apple_id=apple_id)


@pytest.mark.parametrize("platform", list(mc.Platform))
def test_byod_profile_follows_apple_schema(platform):
    profile = enrollment(mdm=_account("BYOD"), platform=platform)
    assert check_profile(profile) == []
    mdm = payload(profile, "com.apple.mdm")
    assert mdm["EnrollmentMode"] == "BYOD"
    assert mdm["AssignedManagedAppleID"] == "alice@acme.test"
    assert "AccessRights" not in mdm
    assert mdm["IdentityCertificateUUID"] == payload(profile, "com.apple.security.scep")[
        "PayloadUUID"]


@pytest.mark.parametrize("platform", list(mc.Platform))
def test_adde_profile_follows_apple_schema(platform):
    profile = enrollment(mdm=_account("ADDE"), platform=platform)
    assert check_profile(profile) == []
    mdm = payload(profile, "com.apple.mdm")
    assert (mdm["EnrollmentMode"], mdm["AccessRights"]) == ("ADDE", mc.ALL_ACCESS_RIGHTS)


def test_a_plain_profile_has_no_account_keys():
    mdm = payload(enrollment(), "com.apple.mdm")
    assert "EnrollmentMode" not in mdm and "AssignedManagedAppleID" not in mdm


@pytest.mark.parametrize("mode,apple_id", [("BYOD", None), ("BYOD", ""), ("BYOD", "alice"),
                                           ("byod", "alice@acme.test"), (None, "a@acme.test")])
def test_account_keys_come_together_and_valid(mode, apple_id):
    with pytest.raises(ValueError):
        enrollment(mdm=_account(mode, apple_id))
