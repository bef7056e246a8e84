"""The OpenAPI schema and the API agree: what the schema allows is accepted, what it forbids
is refused with the error envelope, and every answer's status is one the schema lists."""

import pytest

from mdm_server.filters import BIGINT_MAX


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
