"""The create_tenant command: a tenant, its admin and an API token file, or a clear refusal."""

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from users.models import Tenant


def test_create_tenant_with_token_file(tmp_path, client, db):
    token_file = tmp_path / "acme.token"
    call_command("create_tenant", "acme", name="Acme", admin_email="admin@acme.test",
                 admin_password="S3cure-pass!", api_token_file=token_file)
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.users.get().role == "admin"
    token = token_file.read_text().strip()
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    response = client.get("/api/v1/audit-events/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert {"tenant.created", "user.created", "api_token.created"} <= {
        row["action"] for row in response.json()["results"]}


@pytest.mark.parametrize(("slug", "password", "message"), [
    ("Bad Slug", "S3cure-pass!-long", "slug"),
    ("acme2", "short", "password"),
])
def test_create_tenant_rejects_bad_input(db, slug, password, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_tenant", slug, name="X", admin_email="a@x.test",
                     admin_password=password)
    assert not Tenant.objects.exists()
    assert not AuditEvent.objects.exists()


def test_create_tenant_refuses_duplicate(tenant):
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_tenant", tenant.slug, name="X", admin_email="a@x.test",
                     admin_password="S3cure-pass!-long")
