"""manage.py unlock_admin: the documented way back in for a locked-out admin (the only one, say),
by tenant slug and email; audited; a reset password is temporary."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from tests.conftest import PASSWORD
from users.models import User

pytestmark = pytest.mark.django_db
NEW = "Purple-elephant-42"


def _sign_in(client, tenant, email, password):
    return client.post(f"/t/{tenant.slug}/admin/login/", {"email": email, "password": password})


@pytest.fixture
def unlock(django_capture_on_commit_callbacks):
    """Run the command as a shell would: its transaction commits (the lockout is cleared then)."""
    def _unlock(*args, stdin: str | None = None) -> str:
        out = io.StringIO()
        kwargs = {"stdout": out}
        if stdin is not None:
            kwargs["stdin"] = io.StringIO(stdin)
        with django_capture_on_commit_callbacks(execute=True):
            call_command("unlock_admin", *args, **kwargs)
        return out.getvalue()
    return _unlock


def test_unlock_clears_the_sign_in_lockout(unlock, client, tenant, admin, settings):
    settings.MDM_LOGIN_ATTEMPT_LIMIT = 2
    for _ in range(2):
        _sign_in(client, tenant, admin.email, "wrong-wrong-wrong")
    locked = _sign_in(client, tenant, admin.email, PASSWORD)
    assert locked.status_code == 400 and "Too many failed attempts" in locked.content.decode()

    output = unlock("acme", "ADMIN@acme.test")
    assert "Unlocked admin@acme.test in 'acme': sign-in lockout cleared." in output
    assert "Temporary password" not in output
    assert _sign_in(client, tenant, admin.email, PASSWORD)["Location"] == "/t/acme/admin/"
    event = AuditEvent.objects.get(tenant=tenant, action="auth.admin_unlocked")
    assert event.actor_label == "manage.py unlock_admin" and event.user_id == admin.pk
    assert event.detail == {"reenabled": False, "sign_in_lockout_cleared": True}
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD) and not admin.must_change_password


def test_unlock_re_enables_a_disabled_admin(unlock, client, tenant, admin):
    User.objects.filter(pk=admin.pk).update(is_active=False)
    assert _sign_in(client, tenant, admin.email, PASSWORD).status_code == 400
    assert "account re-enabled" in unlock("acme", admin.email)
    assert _sign_in(client, tenant, admin.email, PASSWORD).status_code == 302
    assert AuditEvent.objects.get(action="auth.admin_unlocked").detail["reenabled"] is True


def test_reset_password_prints_a_temporary_one_that_must_be_changed(unlock, client, tenant, admin):
    output = unlock("acme", admin.email, "--reset-password")
    temporary = re.search(r"Temporary password: (\S+)", output).group(1)
    assert len(temporary) >= 16 and "must be changed at the next sign-in" in output
    assert _sign_in(client, tenant, admin.email, PASSWORD).status_code == 400  # old one gone
    response = _sign_in(client, tenant, admin.email, temporary)
    assert response["Location"] == "/t/acme/admin/login/password/"  # not signed in yet
    done = client.post("/t/acme/admin/login/password/",
                       {"new_password1": NEW, "new_password2": NEW})
    assert done["Location"] == "/t/acme/admin/"
    assert client.get("/t/acme/admin/").status_code == 200
    reset = AuditEvent.objects.get(tenant=tenant, action="auth.admin_password_reset")
    assert reset.user_id == admin.pk and temporary not in str(reset.detail)


def test_password_from_stdin_is_checked_and_kept_out_of_the_output(unlock, tenant, admin):
    output = unlock("acme", admin.email, "--password-stdin", stdin="Chosen-by-operator-1\n")
    assert "Chosen-by-operator-1" not in output
    admin.refresh_from_db()
    assert admin.check_password("Chosen-by-operator-1") and admin.must_change_password


def test_a_signed_in_session_ends_when_the_password_is_reset(unlock, client, tenant, admin):
    client.force_login(admin, backend="users.auth.TenantEmailBackend")
    assert client.get("/t/acme/admin/").status_code == 200
    unlock("acme", admin.email, "--reset-password")
    assert client.get("/t/acme/admin/").status_code == 302


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("nope", "admin@acme.test"), None, "No tenant with slug 'nope'"),
    (("acme", "ghost@acme.test"), None, "'acme' has no admin 'ghost@acme.test'"),
    (("acme", "user@acme.test"), None, "has no admin"),          # an end user
    (("acme", "admin@globex.test"), None, "has no admin"),       # another tenant's admin
    (("acme", "admin@acme.test", "--password-stdin"), "short\n", "Password rejected"),
    (("acme", "admin@acme.test", "--password-stdin"), "", "No password on standard input"),
    (("acme", "ldap-admin@acme.test", "--reset-password"), None, "directory (LDAP)"),
])
def test_bad_input_changes_nothing(unlock, tenant, admin, other_tenant, args, stdin, message):
    User.objects.create_user(tenant, "user@acme.test", PASSWORD)
    User.objects.create_user(tenant, "ldap-admin@acme.test", None, role="admin", source="ldap")
    with pytest.raises(CommandError, match=re.escape(message)):
        unlock(*args, stdin=stdin)
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD) and not admin.must_change_password
    assert not AuditEvent.objects.filter(action__startswith="auth.admin_").exists()


def test_both_password_options_at_once_are_refused(unlock, tenant, admin):
    with pytest.raises(CommandError, match="not allowed with"):
        unlock("acme", admin.email, "--reset-password", "--password-stdin")
