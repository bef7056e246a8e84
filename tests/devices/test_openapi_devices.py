"""Property-based run of the devices and profiles endpoints of the OpenAPI schema: whatever
schemathesis sends, they never answer 5xx (the project-wide run stops at the first failure
anywhere; this one keeps our endpoints covered on their own)."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from mdm_server.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(
    path_regex=r"^/api/v1/(devices|apple-mdm-settings|configuration-profiles)/")


@pytest.fixture
def api_token(tenant, admin, other_tenant):
    from users.services.accounts import do_create_api_token

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield do_create_api_token(tenant, "schemathesis", actor=admin).raw
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_server_errors(case, api_token):
    response = case.call(headers={"Authorization": f"Bearer {api_token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
