"""The startup wizard: resumable, adds users, sends invitations (S1)."""

from django.core import mail

from audit.models import AuditEvent
from enrollment.models import Invitation
from users.models import User


def _users_step(*emails):
    data = {"u-TOTAL_FORMS": "5", "u-INITIAL_FORMS": "0", "u-MIN_NUM_FORMS": "0",
            "u-MAX_NUM_FORMS": "200"}
    for index, email in enumerate(emails):
        data[f"u-{index}-email"] = email
    return data


def test_wizard_end_to_end_and_resume(portal, tenant, django_capture_on_commit_callbacks):
    base = f"/t/{tenant.slug}/admin/setup/"
    assert "Start setup" in portal.get(f"/t/{tenant.slug}/admin/").content.decode()
    response = portal.get(base)
    assert response["Location"].endswith("/setup/organization/")
    assert portal.post(base + "organization/", {"name": "Acme Corp"}).status_code == 302
    tenant.refresh_from_db()
    assert tenant.name == "Acme Corp" and tenant.setup_step == "apple"
    bad = portal.post(base + "apple/", {"push_topic": "not-a-topic"})
    assert bad.status_code == 400
    portal.post(base + "apple/", {"skip": "1"})
    # Leaving and coming back resumes at the next step.
    assert portal.get(base)["Location"].endswith("/setup/android/")
    assert "Resume setup" in portal.get(f"/t/{tenant.slug}/admin/").content.decode()
    portal.post(base + "android/", {})
    response = portal.post(base + "users/", _users_step("ann@acme.test", "bob@acme.test"))
    assert response.status_code == 302
    page = portal.get(base + "invite/").content.decode()
    assert "ann@acme.test" in page and "bob@acme.test" in page
    ann = User.objects.get(tenant=tenant, email="ann@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(base + "invite/", {"users": [ann.pk]})
    assert response.status_code == 302 and response["Location"] == f"/t/{tenant.slug}/admin/"
    assert Invitation.objects.filter(tenant=tenant, user=ann).count() == 1
    assert not Invitation.objects.filter(tenant=tenant, user__email="bob@acme.test").exists()
    assert [message.to for message in mail.outbox] == [["ann@acme.test"]]
    tenant.refresh_from_db()
    assert tenant.setup_completed_at is not None
    assert AuditEvent.objects.filter(tenant=tenant, action="tenant.setup_completed").exists()


def test_wizard_users_step_bad_rows(portal, tenant, admin):
    response = portal.post(f"/t/{tenant.slug}/admin/setup/users/", _users_step(admin.email))
    assert response.status_code == 400 and "already has an account" in response.content.decode()


def test_wizard_unknown_step_redirects(portal, tenant):
    response = portal.get(f"/t/{tenant.slug}/admin/setup/nope/")
    assert response.status_code == 302


def test_wizard_needs_admin(client, tenant):
    response = client.get(f"/t/{tenant.slug}/admin/setup/")
    assert response.status_code == 302 and "/login/" in response["Location"]
