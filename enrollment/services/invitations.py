"""Registration invitations (SPEC S1, S8, S11, S12): send (in bulk), open, use, expire.

`do_send_invitations` is the one entry point for the startup wizard, the add-users form, the
users page bulk action and the API. It runs a constant number of queries whatever the number of
users (bulk UPDATE / INSERT, audit rows in one INSERT) and sends the emails after commit over
one reused connection, in batches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from audit.record import actor_fields, record, record_many
from enrollment.models import (
    LIVE_INVITATION_STATES,
    Invitation,
    InvitationStatus,
    RegistrationPin,
    RegistrationPolicy,
)
from enrollment.services.links import current_link, go_url
from enrollment.services.pins import IssuedPin, build_pins, revoke_live_pins
from enrollment.services.policies import needs_password, pin_required, policy_for
from users.csv_import import UserRow
from users.models import User, UserSource
from users.services.people import CreateUsersResult, do_create_users

logger = logging.getLogger(__name__)

EMAIL_BATCH_SIZE = 200


class InvitationError(ValueError):
    """The users cannot be invited (user-facing message)."""


def hash_invitation_token(raw: str) -> str:
    # 256 random bits: a fast hash is enough.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    url: str                 # the /go URL in the email (carries the raw invitation token)
    pin: str | None          # the raw one-time PIN, when one applies
    expires_at: dt.datetime  # when the invitation expires


def selfservice_url(tenant) -> str:
    return settings.MDM_PUBLIC_URL + reverse("selfservice:home",
                                             kwargs={"tenant_slug": tenant.slug})


@transaction.atomic
def do_send_invitations(tenant, users: Iterable[User], *, actor, origin=None,
                        temporary_passwords: Mapping[int, str] | None = None
                        ) -> list[SentInvitation]:
    """Invite `users` (all of `tenant`, active) to register their devices.

    A user's previous live invitation and PIN are replaced (resend). A PIN is issued where the
    policy requires one (S16). `temporary_passwords` maps user id -> the temporary password the
    admin just set; it goes into the email only when the policy allows it (S12).
    Emails leave after commit. Raises InvitationError for foreign or disabled users.
    """
    unique = list({user.pk: user for user in users}.values())
    if not unique:
        return []
    if any(user.tenant_id != tenant.id for user in unique):
        raise InvitationError("Users of another organization cannot be invited.")
    disabled = [user.email for user in unique if not user.is_active]
    if disabled:
        raise InvitationError(f"Disabled accounts cannot be invited: {', '.join(disabled[:5])}")
    policy = policy_for(tenant)
    link = current_link(tenant, actor=actor)
    now = timezone.now()
    expires_at = now + dt.timedelta(days=policy.invitation_validity_days)
    user_ids = [user.pk for user in unique]
    who = actor_fields(actor)

    replaced = (Invitation.objects.for_tenant(tenant)
                .filter(user_id__in=user_ids, status__in=LIVE_INVITATION_STATES)
                .update(status=InvitationStatus.REVOKED, revoked_at=now))
    revoke_live_pins(tenant, user_ids, now=now)
    pins = build_pins(tenant, [u for u in unique if pin_required(policy, u)], policy,
                      actor=actor, now=now)
    RegistrationPin.objects.bulk_create([issued.pin for issued in pins.values()])

    raw_tokens = {user.pk: secrets.token_urlsafe(32) for user in unique}
    invitations = Invitation.objects.bulk_create([
        Invitation(tenant=tenant, user=user, token_hash=hash_invitation_token(raw_tokens[user.pk]),
                   pin=pins[user.pk].pin if user.pk in pins else None,
                   sent_by=who["actor"], sent_by_label=who["actor_label"],
                   created_at=now, expires_at=expires_at)
        for user in unique])

    record_many(tenant, AuditAction.INVITATION_SENT, invitations, actor=actor, origin=origin,
                user_of=lambda invitation: invitation.user,
                detail_of=lambda invitation: {"email": invitation.user.email,
                                              "pin": invitation.pin is not None,
                                              "expires_at": expires_at.isoformat()})
    if replaced:
        record(tenant, AuditAction.INVITATION_REVOKED, actor=actor, origin=origin,
               detail={"replaced": replaced, "reason": "resent"})

    sent = []
    messages = []
    for invitation in invitations:
        user = invitation.user
        issued = pins.get(user.pk)
        url = go_url(link, raw_tokens[user.pk])
        sent.append(SentInvitation(invitation, url, issued.raw if issued else None, expires_at))
        temporary = (temporary_passwords or {}).get(user.pk) \
            if policy.email_temporary_password else None
        messages.append(invitation_email(tenant, user, url=url, pin=issued, policy=policy,
                                         expires_at=expires_at, temporary_password=temporary))
    ids = [invitation.pk for invitation in invitations]
    transaction.on_commit(lambda: deliver_invitation_emails(tenant, ids, messages))
    return sent


@transaction.atomic
def do_create_and_invite_users(tenant, rows: Sequence[UserRow], *, actor, origin=None,
                               label: str = "row") -> CreateUsersResult:
    """Add local end users and invite them: both or neither. S12: a temporary password the
    admin chose may go to the corporate email with the invitation."""
    result = do_create_users(tenant, rows, actor=actor, origin=origin, label=label)
    if result.ok:
        temporary = {user.pk: row.password for user, row in zip(result.users, rows, strict=True)
                     if row.password and row.temporary_password}
        do_send_invitations(tenant, result.users, actor=actor, origin=origin,
                            temporary_passwords=temporary)
    return result


def invitation_email(tenant, user: User, *, url: str, pin: IssuedPin | None,
                     policy: RegistrationPolicy, expires_at: dt.datetime,
                     temporary_password: str | None = None) -> EmailMultiAlternatives:
    """The invitation email (text + HTML) for one user."""
    if user.source == UserSource.LDAP:
        sign_in = "network"
    elif temporary_password:
        sign_in = "temporary_emailed"
    elif user.must_change_password:
        sign_in = "temporary_known"
    elif needs_password(user):
        sign_in = "pin_then_password"
    else:
        sign_in = "password"
    context = {
        "tenant": tenant, "user": user, "url": url, "expires_at": expires_at,
        "pin": pin.raw if pin else None, "pin_expires_at": pin.expires_at if pin else None,
        "sign_in": sign_in, "temporary_password": temporary_password,
        "selfservice_url": selfservice_url(tenant),
    }
    subject = render_to_string("email/invitation_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("email/invitation.txt", context),
        to=[user.email])
    message.attach_alternative(render_to_string("email/invitation.html", context), "text/html")
    return message


def deliver_invitation_emails(tenant, invitation_ids: list[int],
                              messages: list[EmailMultiAlternatives]) -> int:
    """Send after commit over one connection, in batches; mark each batch sent. A delivery
    failure is logged and audited; those invitations stay `pending` (resend them)."""
    delivered = 0
    connection = get_connection()
    try:
        connection.open()
        for start in range(0, len(messages), EMAIL_BATCH_SIZE):
            batch = messages[start:start + EMAIL_BATCH_SIZE]
            batch_ids = invitation_ids[start:start + EMAIL_BATCH_SIZE]
            for message in batch:
                message.connection = connection
            connection.send_messages(batch)
            Invitation.objects.filter(pk__in=batch_ids, status=InvitationStatus.PENDING).update(
                status=InvitationStatus.SENT, sent_at=timezone.now())
            delivered += len(batch)
    except Exception as exc:  # SMTP errors are many and varied; none may lose the record
        logger.exception("invitation emails not delivered")
        record(tenant, AuditAction.INVITATION_EMAIL_FAILED, actor="system",
               detail={"undelivered": len(messages) - delivered, "error": str(exc)[:500]})
    finally:
        connection.close()
    return delivered


def find_invitation(tenant, raw_token: str) -> Invitation | None:
    if not raw_token or len(raw_token) > 100:
        return None
    return (Invitation.objects.for_tenant(tenant).select_related("user")
            .filter(token_hash=hash_invitation_token(raw_token)).first())


@transaction.atomic
def do_open_invitation(tenant, raw_token: str, *, origin=None) -> Invitation | None:
    """The invitation link was opened: record it once (audited). Returns the invitation (any
    status; an expired one is marked expired) or None for an unknown token."""
    invitation = find_invitation(tenant, raw_token)
    if invitation is None:
        return None
    invitation = Invitation.objects.select_for_update().select_related("user").get(
        pk=invitation.pk)
    now = timezone.now()
    if invitation.status in LIVE_INVITATION_STATES and invitation.expires_at <= now:
        invitation.status, invitation.expired_at = InvitationStatus.EXPIRED, now
        invitation.save(update_fields=["status", "expired_at"])
    elif invitation.status in (InvitationStatus.PENDING, InvitationStatus.SENT):
        invitation.status, invitation.opened_at = InvitationStatus.OPENED, now
        invitation.save(update_fields=["status", "opened_at"])
        record(tenant, AuditAction.INVITATION_OPENED, actor=invitation.user, target=invitation,
               user=invitation.user, origin=origin)
    return invitation


@transaction.atomic
def do_use_invitation(tenant, invitation_id: int, user: User, *, origin=None) -> bool:
    """The invited user finished signing in through the invitation link."""
    invitation = (Invitation.objects.for_tenant(tenant).select_for_update()
                  .filter(pk=invitation_id, user=user, status__in=LIVE_INVITATION_STATES,
                          expires_at__gt=timezone.now()).first())
    if invitation is None:
        return False
    now = timezone.now()
    invitation.status, invitation.used_at = InvitationStatus.USED, now
    invitation.opened_at = invitation.opened_at or now
    invitation.save(update_fields=["status", "used_at", "opened_at"])
    record(tenant, AuditAction.INVITATION_USED, actor=user, target=invitation, user=user,
           origin=origin)
    return True


@transaction.atomic
def expire_invitations(now: dt.datetime | None = None) -> int:
    """Sweep: mark every live invitation past its expiry as expired (set-based), with one
    audit summary per tenant. Returns how many expired."""
    now = now or timezone.now()
    due = Invitation.objects.filter(status__in=LIVE_INVITATION_STATES, expires_at__lte=now)
    per_tenant = dict(due.values_list("tenant").annotate(n=Count("id")).order_by())
    if not per_tenant:
        return 0
    expired = due.update(status=InvitationStatus.EXPIRED, expired_at=now)
    AuditEvent.objects.bulk_create([
        AuditEvent(tenant_id=tenant_id, action=AuditAction.INVITATIONS_EXPIRED,
                   actor_label="system", detail={"expired": count})
        for tenant_id, count in per_tenant.items()])
    return expired

