"""API skeleton: bearer tokens (missing, wrong, revoked, other tenant's), JSON errors, schema."""

import json

from audit.models import AuditEvent
from users.models import ApiToken
from users.services.accounts import do_create_api_token, do_revoke_api_token


def test_missing_token_is_401_json(client, tenant):
    response = client.get("/api/v1/audit-events/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_wrong_and_malformed_tokens(client, tenant):
    for header in ("Bearer mdm_wrong", "Bearer ", "Bearer a b"):
        response = client.get("/api/v1/audit-events/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "authentication_failed"


def test_token_is_stored_hashed_and_shown_once(tenant, admin):
    issued = do_create_api_token(tenant, "hr-sync", actor=admin)
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.raw not in {stored.key_hash, stored.key_hint}
    assert len(stored.key_hash) == 64 and issued.raw.startswith(stored.key_hint)


def test_revoked_token_is_refused(client, tenant, admin):
    issued = do_create_api_token(tenant, "old", actor=admin)
    do_revoke_api_token(tenant, issued.token, actor=admin)
    response = client.get("/api/v1/audit-events/", HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    assert response.status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_other_tenants_token_sees_none_of_ours(api, other_api, tenant):
    ours = {row["id"] for row in api.get("/api/v1/audit-events/").json()["results"]}
    theirs = {row["id"] for row in other_api.get("/api/v1/audit-events/").json()["results"]}
    assert ours and theirs and not ours & theirs
    foreign_tenants = AuditEvent.objects.filter(id__in=theirs).values_list("tenant", flat=True)
    assert tenant.id not in set(foreign_tenants)


def test_end_user_session_cannot_use_api(client, tenant):
    user = tenant.users.create_user(tenant, "ann@acme.test", "Ann-pass-12345")
    client.force_login(user, backend="users.auth.TenantEmailBackend")
    assert client.get("/api/v1/audit-events/").status_code == 401


def test_admin_session_can_use_api(portal):
    assert portal.get("/api/v1/audit-events/").status_code == 200


def test_unknown_api_path_and_malformed_json_are_json_errors(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = api.post("/api/v1/audit-events/", data="{not json", content_type="application/json")
    assert response.status_code in (400, 405)
    assert "error" in response.json()


def test_openapi_schema_is_served_and_valid(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/audit-events/" in schema["paths"]
    assert client.get("/api/docs/").status_code == 200


def test_docs_page_uses_no_cdn(client, db):
    html = client.get("/api/docs/").content.decode()
    assert "cdn" not in html.lower() and "unpkg" not in html
