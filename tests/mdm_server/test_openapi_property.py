"""Property-based run of the whole OpenAPI schema: whatever schemathesis sends to any endpoint,
the server never answers 5xx. It grows by itself as endpoints are added to the schema."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from mdm_server.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def api_token(tenant, admin, other_tenant):
    from users.services.accounts import do_create_api_token

    # As Django's test client does: keep the test transaction's connection open across calls.
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
