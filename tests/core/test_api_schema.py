"""The OpenAPI schema and the API agree: what the schema allows is accepted, what it forbids
is refused with the error envelope, and every answer's status is one the schema lists."""

import pytest

from core.filters import BIGINT_MAX


@pytest.fixture
def schema(api):
    return api.get("/api/schema/", {"format": "json"}).json()


def _parameter(schema, path, name):
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)


@pytest.mark.parametrize("page_size", ["null", "0", "-3", "2.5", "", "1e3"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_refused(api, page_size):
    response = api.get("/api/v1/users/", {"page_size": page_size})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["page_size"]


def test_a_large_page_size_is_capped(api):
    for page_size in ("1000", "1" + "0" * 40):
        assert api.get("/api/v1/users/", {"page_size": page_size}).status_code == 200


def test_id_filters_and_pages_declare_their_range(schema):
    assert _parameter(schema, "/api/v1/devices/", "owner")["schema"] == {
        "type": "integer", "minimum": 1, "maximum": BIGINT_MAX}
    for name in ("page", "page_size"):
        assert _parameter(schema, "/api/v1/devices/{id}/commands/", name)["schema"] == {
            "type": "integer", "minimum": 1}


@pytest.mark.parametrize(("body", "field"), [
    ({"enabled": "yes"}, "enabled"), ({"enabled": 1}, "enabled"),
    ({"interval_minutes": "60"}, "interval_minutes"), ({"interval_minutes": True},
                                                       "interval_minutes"),
    ({"interval_minutes": 60.0}, "interval_minutes"), ({"colour": "red"}, "colour"),
    ({"updated_at": "2026-01-01T00:00:00Z"}, "updated_at")])
def test_a_body_is_read_as_the_schema_types_it(api, body, field):
    response = api.patch("/api/v1/reminder-policy/current/", body)
    assert response.status_code == 400, response.json()
    assert list(response.json()["error"]["fields"]) == [field]


def test_list_items_and_strings_are_typed_too(api):
    response = api.post("/api/v1/push-attempts/push-devices/", {"devices": ["1"]})
    assert response.json()["error"]["fields"] == {"devices": ["Item 0: must be a whole number."]}
    response = api.post("/api/v1/scep-challenges/", {"purpose": 12})
    assert response.json()["error"]["fields"] == {"purpose": ["Must be a string."]}


def test_bodies_are_json_only(api):
    response = api.patch("/api/v1/reminder-policy/current/", {"enabled": "false"},
                         format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_request_bodies_are_closed_and_lists_that_must_not_be_empty_say_so(schema):
    components = schema["components"]["schemas"]
    assert components["ReminderPolicyRequest"]["additionalProperties"] is False
    assert components["PatchedReminderPolicyRequest"]["additionalProperties"] is False
    platforms = components["ConfigurationProfileRequest"]["properties"]["platforms"]
    assert platforms["minItems"] == 1
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"]


def test_demoting_yourself_is_forbidden_not_invalid(api, admin):
    response = api.patch(f"/api/v1/users/{admin.pk}/", {"role": "user"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("url", "params", "name"), [
    ("/api/v1/certificate-authorities/", {"is_active": "2"}, "is_active"),
    ("/api/v1/configuration-profiles/", {"assign_to_all": "null"}, "assign_to_all"),
    ("/api/v1/users/", {"registered": ""}, "registered"),
    ("/api/v1/audit-events/", {"until": ""}, "until"),
    ("/api/v1/registrations/", {"step": ""}, "step")])
def test_an_empty_or_loose_query_value_is_refused_by_name(api, url, params, name):
    response = api.get(url, params)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [name]


def test_free_text_may_be_empty_and_booleans_are_true_or_false(api):
    assert api.get("/api/v1/users/", {"q": "", "is_active": "True"}).status_code == 200


def test_text_parameters_and_fields_declare_that_nul_is_refused(api, schema):
    assert _parameter(schema, "/api/v1/users/", "q")["schema"]["pattern"] == "^[^\\u0000]*$"
    name = schema["components"]["schemas"]["ConfigurationProfileRequest"]["properties"]["name"]
    assert name["pattern"] == "^[^\\u0000]*$"
    assert api.get("/api/v1/users/", {"q": "a\x00"}).status_code == 400


def test_the_agent_apps_unknown_organization_is_a_json_404(client, db):
    response = client.get("/t/no-such-org/app/v1/registration")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("page", ["", "last", "0", "x"])
def test_a_page_that_is_not_a_page_number_is_a_404(api, page):
    response = api.get("/api/v1/users/", {"page": page})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid page."
