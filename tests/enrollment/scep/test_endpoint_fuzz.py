"""Property-based: mutated SCEP messages at the endpoint never cause a 5xx, and never more
than the one certificate the genuine challenge allows."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment.models import IssuedCertificate
from enrollment.services.challenges import do_create_challenge
from tests.enrollment.scep.helpers import pkcs_req


@pytest.fixture
def genuine(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin)
    return pkcs_req(tenant, minted.raw).der


def _mutate(der: bytes, data) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "truncate", "splice", "insert"]))
    if kind == "truncate":
        return der[: data.draw(st.integers(0, len(der) - 1))]
    position = data.draw(st.integers(0, len(der) - 1))
    if kind == "flip":
        bit = 1 << data.draw(st.integers(0, 7))
        return der[:position] + bytes([der[position] ^ bit]) + der[position + 1:]
    chunk = data.draw(st.binary(min_size=1, max_size=16))
    if kind == "insert":
        return der[:position] + chunk + der[position:]
    return der[:position] + chunk + der[position + len(chunk):]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_messages_never_500(client, tenant, genuine, data):
    body = _mutate(genuine, data)
    via_get = data.draw(st.booleans())
    if via_get:
        import base64

        encoded = base64.urlsafe_b64encode(body).decode()
        response = client.get(f"/t/{tenant.slug}/scep?operation=PKIOperation&message={encoded}")
    else:
        response = client.post(f"/t/{tenant.slug}/scep?operation=PKIOperation", data=body,
                               content_type="application/x-pki-message")
    assert response.status_code in (200, 400), response.status_code
    assert IssuedCertificate.objects.filter(tenant=tenant).count() <= 1


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=200))
def test_arbitrary_query_strings_never_500(client, tenant, query):
    response = client.get(f"/t/{tenant.slug}/scep", {"operation": "PKIOperation",
                                                     "message": query})
    assert response.status_code in (200, 400)
