"""Registration URLs (SPEC S4, S8-S10): generate, regenerate (revoking the old), resolve.

`current_go_url(tenant)` is what other code puts in emails, pages and API answers.
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from enrollment.models import CURRENT_LINK_FORMAT, RegistrationLink
from users.models import User

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what secrets.token_urlsafe makes


def go_path(link: RegistrationLink, invitation_token: str | None = None) -> str:
    base = f"/r/{link.format_version}/{link.token}"
    if invitation_token:
        return f"{base}/i/{invitation_token}/go"
    return f"{base}/go"


def go_url(link: RegistrationLink, invitation_token: str | None = None) -> str:
    """`{MDM_PUBLIC_URL}/r/<format_version>/<token>/go` (an invitation's ends in /go too)."""
    return settings.MDM_PUBLIC_URL + go_path(link, invitation_token)


def live_link(tenant) -> RegistrationLink | None:
    return RegistrationLink.objects.for_tenant(tenant).filter(revoked_at=None).first()


def current_link(tenant, *, actor="system") -> RegistrationLink:
    """The tenant's live link in the current format, generated on first use (and when the
    live one was made in an older format, S4)."""
    link = live_link(tenant)
    if link is not None and link.format_version == CURRENT_LINK_FORMAT:
        return link
    try:
        return do_generate_link(tenant, actor=actor)
    except IntegrityError:  # generated concurrently by another request
        return live_link(tenant)


def current_go_url(tenant) -> str:
    """The tenant's registration URL ending in /go (generated on first use)."""
    return go_url(current_link(tenant))


@transaction.atomic
def do_generate_link(tenant, *, actor, origin=None) -> RegistrationLink:
    """A new link in the current format; the previous live link is revoked (audited)."""
    now = timezone.now()
    for old in (RegistrationLink.objects.for_tenant(tenant).select_for_update()
                .filter(revoked_at=None)):
        old.revoked_at = now
        old.save(update_fields=["revoked_at"])
        record(tenant, AuditAction.REGISTRATION_LINK_REVOKED, actor=actor, target=old,
               origin=origin, detail={"format_version": old.format_version})
    link = RegistrationLink.objects.create(
        tenant=tenant, token=secrets.token_urlsafe(18), format_version=CURRENT_LINK_FORMAT,
        created_by=actor if isinstance(actor, User) else None)
    record(tenant, AuditAction.REGISTRATION_LINK_CREATED, actor=actor, target=link,
           origin=origin, detail={"format_version": link.format_version})
    return link


class LinkProblem(enum.Enum):
    OK = "ok"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    OLD_FORMAT = "old_format"


@dataclass(frozen=True)
class ResolvedLink:
    problem: LinkProblem
    link: RegistrationLink | None = None

    @property
    def ok(self) -> bool:
        return self.problem is LinkProblem.OK


def resolve_link(format_version, token: str) -> ResolvedLink:
    """Which tenant link a /r/<version>/<token>/go URL names, and whether it still works.
    Garbage gives UNKNOWN, never an exception."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.match(token):
        return ResolvedLink(LinkProblem.UNKNOWN)
    link = (RegistrationLink.objects.select_related("tenant")
            .filter(token=token, tenant__is_active=True).first())
    if link is None:
        return ResolvedLink(LinkProblem.UNKNOWN)
    if str(format_version) != str(link.format_version) or link.format_version != \
            CURRENT_LINK_FORMAT:
        return ResolvedLink(LinkProblem.OLD_FORMAT, link)
    if link.revoked_at is not None:
        return ResolvedLink(LinkProblem.REVOKED, link)
    return ResolvedLink(LinkProblem.OK, link)
