"""Configuration profiles: API and portal CRUD, validation, tenant isolation, rendering.

The API and the list and edit pages run the shared base cases (tests/base); the checks
particular to profiles follow each base class."""

from __future__ import annotations

import plistlib

import pytest

from audit.events import AuditAction
from audit.models import AuditEvent
from profiles.models import ConfigurationProfile
from profiles.services.configuration import build_profile, do_create_profile
from tests.base.api import APIViewTestCases
from tests.base.apple.schema import check_profile
from tests.base.portal import PortalViewTestCases
from users.models import User

pytestmark = pytest.mark.django_db

WIFI = plistlib.dumps([{"PayloadType": "com.apple.wifi.managed", "SSID_STR": "Acme",
                        "EncryptionType": "WPA2", "AutoJoin": True}]).decode()


def body(**overrides) -> dict:
    return {"name": "Wi-Fi", "identifier": "com.acme.wifi", "payload_plist": WIFI,
            "scope": "device", "platforms": ["ios", "macos"], "assign_to_all": True,
            **overrides}


def make(tenant, name="Wi-Fi", **kwargs) -> ConfigurationProfile:
    values = {"identifier": f"com.{tenant.slug}.{len(name)}.{name.lower().replace(' ', '')}",
              "payload_plist": WIFI, "scope": "device", "platforms": ["ios"], **kwargs}
    return do_create_profile(tenant, actor="test", name=name, **values)


class TestConfigurationProfileAPI(APIViewTestCases.APIViewTestCase):
    url = "/api/v1/configuration-profiles/"
    model = ConfigurationProfile
    list_fields = ["id", "name", "identifier", "description", "payload_plist", "scope",
                   "platforms", "assign_to_all", "assigned_users", "profile_uuid", "created_at",
                   "updated_at"]
    create_data = [
        body(),
        body(name="VPN", identifier="com.acme.vpn", scope="user", platforms=["macos"]),
        body(name="Mail", identifier="com.acme.mail", description="Work mail",
             platforms=["ios"]),
    ]
    update_data = {"scope": "user", "name": "VPN"}
    bad_data = [
        ({"payload_plist": "not xml"}, "payload_plist"),
        ({"payload_plist": plistlib.dumps([]).decode()}, "payload_plist"),
        ({"payload_plist": plistlib.dumps([{"NoType": 1}]).decode()}, "payload_plist"),
        ({"payload_plist": plistlib.dumps({"a": 1}).decode()}, "payload_plist"),
        ({"payload_plist": plistlib.dumps([{"PayloadType": "x", "PayloadIdentifier": "a"},
                                           {"PayloadType": "y", "PayloadIdentifier": "a"}]
                                          ).decode()}, "payload_plist"),
        ({"identifier": "has space"}, "identifier"),
        ({"identifier": ""}, "identifier"),
        ({"scope": "galaxy"}, "scope"),
        ({"platforms": []}, "platforms"),
        ({"platforms": ["android"]}, "platforms"),
        ({"name": ""}, "name"),
    ]

    def make_object(self, tenant, admin, index):
        return make(tenant, f"Profile {tenant.slug}-{index:03}")

    def test_api_crud(self, api, tenant):
        jane = User.objects.create_user(tenant, "jane@acme.test")
        created = api.post("/api/v1/configuration-profiles/",
                           body(assign_to_all=False, assigned_users=[jane.pk]), format="json")
        assert created.status_code == 201, created.json()
        data = created.json()
        assert data["platforms"] == ["ios", "macos"] and data["assigned_users"] == [jane.pk]
        url = f"/api/v1/configuration-profiles/{data['id']}/"
        patched = api.patch(url, {"scope": "user", "name": "VPN"}, format="json")
        assert patched.status_code == 200 and patched.json()["scope"] == "user"
        assert api.get("/api/v1/configuration-profiles/").json()["count"] == 1
        assert api.delete(url).status_code == 204
        assert not ConfigurationProfile.objects.exists()
        actions = list(AuditEvent.objects.filter(action__startswith="profile.")
                       .order_by("id").values_list("action", flat=True))
        assert actions == [AuditAction.CONFIG_PROFILE_CREATED, AuditAction.CONFIG_PROFILE_UPDATED,
                           AuditAction.CONFIG_PROFILE_DELETED]

    def test_a_whole_mobileconfig_is_accepted(self, api):
        mobileconfig = plistlib.dumps({"PayloadType": "Configuration",
                                       "PayloadContent": plistlib.loads(WIFI.encode())}).decode()
        response = api.post(self.url, body(payload_plist=mobileconfig), format="json")
        assert response.status_code == 201
        assert plistlib.loads(response.json()["payload_plist"].encode())[0]["SSID_STR"] == "Acme"

    def test_identifier_is_unique_per_tenant(self, api, other_api):
        assert api.post(self.url, body(), format="json").status_code == 201
        taken = api.post(self.url, body(), format="json")
        assert taken.status_code == 409 and list(taken.json()["error"]["fields"]) == ["identifier"]
        assert other_api.post(self.url, body(), format="json").status_code == 201

    def test_foreign_users_cannot_be_assigned(self, api, other_tenant):
        stranger = User.objects.create_user(other_tenant, "x@globex.test")
        response = api.post(self.url, body(assign_to_all=False, assigned_users=[stranger.pk]),
                            format="json")
        assert response.status_code == 404
        assert list(response.json()["error"]["fields"]) == ["assigned_users"]


class TestConfigurationProfilePages(PortalViewTestCases.ListViewTestCase,
                                    PortalViewTestCases.ObjectViewTestCase):
    path = "profiles/"
    detail_paths = ("profiles/{pk}/",)

    def make_object(self, tenant, admin, index):
        return make(tenant, f"Profile {tenant.slug}-{index:03}")

    def object_marker(self, obj) -> str:
        return obj.name

    def test_foreign_profile_cannot_be_deleted(self, portal, tenant, foreign_object):
        assert portal.post(f"/t/{tenant.slug}/admin/profiles/{foreign_object.pk}/delete/"
                           ).status_code == 404
        assert ConfigurationProfile.objects.filter(pk=foreign_object.pk).exists()


def test_rendered_profile_follows_apples_schema(tenant):
    root = plistlib.dumps([{"PayloadType": "com.apple.security.root",
                            "PayloadCertificateFileName": "root.cer",
                            "PayloadContent": b"0\x82 fake der"}]).decode()
    profile = make(tenant, scope="user", platforms=["macos"], payload_plist=root)
    built = build_profile(profile, "macos")
    assert check_profile(built) == []
    assert built["PayloadScope"] == "User"
    assert "PayloadScope" not in build_profile(profile, "ios")


def test_portal_pages(portal, tenant):
    jane = User.objects.create_user(tenant, "jane@acme.test")
    assert portal.get("/t/acme/admin/profiles/").status_code == 200
    assert portal.get("/t/acme/admin/profiles/new/").status_code == 200
    bad = portal.post("/t/acme/admin/profiles/new/", {**body(payload_plist="<nope"),
                                                      "platforms": ["ios"]})
    assert bad.status_code == 400
    response = portal.post("/t/acme/admin/profiles/new/", {
        **body(assign_to_all=""), "platforms": ["ios"], "assigned_users": [jane.pk]})
    assert response.status_code == 302
    profile = ConfigurationProfile.objects.get()
    assert list(profile.assigned_users.all()) == [jane] and not profile.assign_to_all
    edit = f"/t/acme/admin/profiles/{profile.pk}/"
    assert portal.get(edit).status_code == 200
    assert portal.post(edit, {**body(name="Office Wi-Fi"), "platforms": ["macos"]}
                       ).status_code == 302
    profile.refresh_from_db()
    assert (profile.name, profile.platforms) == ("Office Wi-Fi", ["macos"])
    assert portal.post(f"{edit}delete/").status_code == 302
    assert not ConfigurationProfile.objects.exists()
