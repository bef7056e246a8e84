"""Property-based run of the whole OpenAPI schema with every schemathesis check on every
operation (as `schemathesis run --checks all`): no 5xx, every status, header and body as the
schema declares them, schema-valid requests accepted and schema-invalid ones refused. A few
examples per operation, positive and negative, with a fixed seed, so it fits CI and fails the
same way twice; it grows by itself as endpoints are added to the schema."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mdm_server.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
EXAMPLES_PER_OPERATION = 6

# Bodies whose validity lies in their content, which JSON Schema cannot state: a schema-valid
# string is still not a plist, a key, a certificate, an LDAP filter or a strong password, and
# the server rightly answers 400. Only the "valid data is accepted" check is skipped for these
# operations (every other one runs); each entry goes once its fields carry a format the fuzzer
# can generate (issue 19).
CONTENT_CHECKED_BODIES = {
    "PUT /api/v1/android-enterprise/current/": "service_account_key: a Google key file",
    "PUT /api/v1/apns-certificate/current/": "an Apple MDM push certificate and its key",
    "PUT /api/v1/app-push-credentials/current/": "apns_key: an ES256 .p8 key",
    "PATCH /api/v1/app-push-credentials/current/": "apns_key: an ES256 .p8 key",
    "POST /api/v1/certificate-authorities/import/": "a CA key and certificate (PEM, PKCS#12)",
    "POST /api/v1/configuration-profiles/": "payload_plist: Apple payload dictionaries",
    "PUT /api/v1/configuration-profiles/{id}/": "payload_plist: Apple payload dictionaries",
    "PATCH /api/v1/configuration-profiles/{id}/": "payload_plist: Apple payload dictionaries",
    "PUT /api/v1/mdm-vendor-certificate/current/": "an MDM vendor certificate, its chain and key",
    "PUT /api/v1/ldap-connector/": "LDAP URLs, DNs, filter syntax; a PEM CA certificate",
    "POST /api/v1/users/": "password: Django's password validators",
}


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
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_answer_keeps_the_schema(case, api_token):
    content_checked = case.operation.label in CONTENT_CHECKED_BODIES
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"},
                           excluded_checks=[positive_data_acceptance] if content_checked else None)


def test_the_content_checked_list_names_real_operations():
    labels = {operation.ok().label for operation in schema.get_all_operations()}
    assert set(CONTENT_CHECKED_BODIES) <= labels
