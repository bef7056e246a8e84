"""Planning an LDAP sync: directory entries + the tenant's accounts -> what to create, update,
re-enable and disable. Pure (no queries): `users.services.ldap.do_sync_ldap` loads the accounts
in one query, calls `plan_sync`, and writes the plan with bulk operations.

Rules, in order, for each entry:
- no unique id, a duplicate unique id, or an invalid email: skipped as invalid;
- no email: skipped and counted (`skipped_no_email`);
- an email another entry of this directory already took: collision, reported;
- matched by unique id (`User.external_id`): updated if anything changed; re-enabled if the
  sync had disabled it (an account an admin disabled by hand stays disabled);
- else matched by email: a local account is never taken over (collision, reported); a directory
  account whose old id is gone from the directory is re-linked (directory rebuilt);
- else: a new account (source=ldap, unusable password).
Directory accounts of the tenant that no entry matched are disabled, never deleted. An email
that moves from one account to another takes two syncs (the first reports a collision), so no
single write ever needs two accounts to hold the same email at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from users.ldap.client import DirectoryEntry
from users.models import User, UserSource

MAX_PROBLEMS_REPORTED = 100
NAME_MAX_LENGTH = 150
EXTERNAL_ID_MAX_LENGTH = 255
EMAIL_MAX_LENGTH = 254
# The fields a sync may change on an existing account (bulk_update's field list).
SYNCED_FIELDS = ("email", "first_name", "last_name", "ldap_dn", "external_id", "is_active",
                 "ldap_missing_since")


@dataclass(frozen=True)
class SyncProblem:
    dn: str
    email: str
    reason: str

    def as_dict(self) -> dict:
        return {"dn": self.dn, "email": self.email, "reason": self.reason}


@dataclass
class SyncPlan:
    to_create: list[DirectoryEntry] = field(default_factory=list)
    to_update: list[User] = field(default_factory=list)  # already carrying the new values
    reenabled_ids: list[int] = field(default_factory=list)
    to_disable_ids: list[int] = field(default_factory=list)
    entries: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_no_email: int = 0
    skipped_invalid: int = 0
    collisions: int = 0
    problems: list[SyncProblem] = field(default_factory=list)

    def counts(self, *, created: int | None = None) -> dict[str, int]:
        return {
            "entries": self.entries,
            "created": len(self.to_create) if created is None else created,
            "updated": self.updated,
            "reenabled": len(self.reenabled_ids),
            "disabled": len(self.to_disable_ids),
            "unchanged": self.unchanged,
            "skipped_no_email": self.skipped_no_email,
            "skipped_invalid": self.skipped_invalid,
            "collisions": self.collisions,
        }

    def _report(self, entry: DirectoryEntry, reason: str) -> None:
        if len(self.problems) < MAX_PROBLEMS_REPORTED:
            self.problems.append(SyncProblem(entry.dn, entry.email, reason))


def _valid_email(email: str) -> bool:
    if len(email) > EMAIL_MAX_LENGTH:
        return False
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


def plan_sync(entries: Sequence[DirectoryEntry], users: Iterable[User], *,
              now: dt.datetime) -> SyncPlan:
    """Decide every change of one sync. `users` are all accounts of the tenant (local ones are
    needed to detect email collisions); the ones to update are modified in place."""
    users = list(users)
    plan = SyncPlan(entries=len(entries))
    by_external_id = {u.external_id: u for u in users
                      if u.source == UserSource.LDAP and u.external_id}
    by_email = {u.email.lower(): u for u in users}
    directory_ids = {e.unique_id for e in entries if e.unique_id}
    seen_ids: set[str] = set()
    claimed_emails: set[str] = set()
    matched_user_ids: set[int] = set()

    for entry in entries:
        if not entry.unique_id or len(entry.unique_id) > EXTERNAL_ID_MAX_LENGTH:
            plan.skipped_invalid += 1
            plan._report(entry, "no usable unique id attribute")
            continue
        if entry.unique_id in seen_ids:
            plan.skipped_invalid += 1
            plan._report(entry, "duplicate unique id")
            continue
        seen_ids.add(entry.unique_id)
        if not entry.email:
            plan.skipped_no_email += 1
            continue
        if not _valid_email(entry.email):
            plan.skipped_invalid += 1
            plan._report(entry, "invalid email address")
            continue
        if entry.email in claimed_emails:
            plan.collisions += 1
            plan._report(entry, "another directory entry has the same email")
            continue
        claimed_emails.add(entry.email)

        user = by_external_id.get(entry.unique_id)
        if user is None:
            holder = by_email.get(entry.email)
            if holder is None:
                plan.to_create.append(entry)
                continue
            if holder.source != UserSource.LDAP:
                plan.collisions += 1
                plan._report(entry, "email belongs to a local account; not overwritten")
                continue
            if holder.external_id in directory_ids or holder.pk in matched_user_ids:
                plan.collisions += 1
                plan._report(entry, "email belongs to another directory account")
                continue
            user = holder  # same person, new entry id (directory rebuilt or re-created)
        matched_user_ids.add(user.pk)
        _apply_entry(plan, user, entry, by_email, now)

    plan.to_disable_ids = [
        u.pk for u in users
        if u.source == UserSource.LDAP and u.is_active and u.pk not in matched_user_ids
    ]
    return plan


def _apply_entry(plan: SyncPlan, user: User, entry: DirectoryEntry, by_email: dict,
                 now: dt.datetime) -> None:
    wanted = {
        "first_name": entry.first_name[:NAME_MAX_LENGTH],
        "last_name": entry.last_name[:NAME_MAX_LENGTH],
        "ldap_dn": entry.dn,
        "external_id": entry.unique_id,
    }
    if entry.email != user.email.lower():
        holder = by_email.get(entry.email)
        if holder is not None and holder.pk != user.pk:
            plan.collisions += 1
            plan._report(entry, "new email belongs to another account; email kept")
        else:
            wanted["email"] = entry.email
    changed = False
    for name, value in wanted.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed = True
    returning = not user.is_active and user.ldap_missing_since is not None
    if returning:
        user.is_active = True
        user.ldap_missing_since = None
        plan.reenabled_ids.append(user.pk)
    if changed or returning:
        plan.to_update.append(user)
    if changed and not returning:
        plan.updated += 1
    elif not changed and not returning:
        plan.unchanged += 1
