"""Admins add users one by one, many at once (form rows or CSV), and enable/disable them.

Bulk work is validated as a whole first (nothing is written if any row is wrong) and written
with a constant number of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from audit.events import AuditAction
from audit.record import record, record_many
from users.csv_import import UserRow
from users.models import User, UserRole, UserSource


@dataclass
class CreateUsersResult:
    users: list[User] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line 3: ..." / "row 2: ..."

    @property
    def ok(self) -> bool:
        return not self.errors


def check_rows(tenant, rows: Sequence[UserRow], label: str = "row") -> list[str]:
    """Every problem of every row, in row order ("line 3: ..."): a row with a bad address is
    still checked for its other values. Writes nothing."""
    emails = [row.email.strip().lower() for row in rows]
    valid = set()
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            continue
        valid.add(email)
    existing = set(
        User.objects.for_tenant(tenant).annotate(email_lower=Lower("email"))
        .filter(email_lower__in=list(valid)).values_list("email_lower", flat=True)
    ) if valid else set()
    errors: list[str] = []
    seen: dict[str, int] = {}
    for row, email in zip(rows, emails, strict=True):
        where = f"{label} {row.line}"
        errors.extend(row.problems)
        if email not in valid:
            errors.append(f"{where}: {row.email!r} is not a valid email address")
        else:
            if email != email.upper().lower():
                # Sign-in matches addresses case-insensitively as SQL UPPER does: "ſ" is "s".
                errors.append(f"{where}: write {email!r} as {email.upper().lower()!r}")
            if email in seen:
                errors.append(f"{where}: {email} is already on {label} {seen[email]}")
            elif email in existing:
                errors.append(f"{where}: {email} already has an account")
            seen.setdefault(email, row.line)
        if len(email) > 254 or len(row.first_name) > 150 or len(row.last_name) > 150:
            errors.append(f"{where}: a value is too long")
        if "\x00" in f"{row.email}{row.first_name}{row.last_name}{row.password}":
            errors.append(f"{where}: a value contains a NUL character")
        if row.password:
            try:
                validate_password(row.password, User(email=email, tenant=tenant))
            except ValidationError as exc:
                errors.append(f"{where}: password rejected: {' '.join(exc.messages)}")
        elif row.temporary_password:
            errors.append(f"{where}: a temporary password needs a password")
    return errors


def do_create_users(tenant, rows: Sequence[UserRow], *, actor, origin=None,
                    label: str = "row") -> CreateUsersResult:
    """Create local end users from validated rows, all or none. To invite them in the same
    transaction: enrollment.services.invitations.do_create_and_invite_users."""
    errors = check_rows(tenant, rows, label)
    if errors or not rows:
        return CreateUsersResult(errors=errors or ["No users to add."])
    try:
        users = _create_users(tenant, rows, actor=actor, origin=origin)
    except IntegrityError:  # a concurrent request created one of these addresses meanwhile
        return CreateUsersResult(errors=[f"{label}s: an address already has an account "
                                         "(created meanwhile by another request)"])
    return CreateUsersResult(users=users)


@transaction.atomic
def _create_users(tenant, rows: Sequence[UserRow], *, actor, origin) -> list[User]:
    users = User.objects.bulk_create([
        User(tenant=tenant, email=row.email.strip().lower(), first_name=row.first_name,
             last_name=row.last_name, role=UserRole.USER, source=UserSource.LOCAL,
             password=make_password(row.password or None),
             must_change_password=bool(row.password) and row.temporary_password,
             require_registration_pin=row.require_pin)
        for row in rows
    ], batch_size=1000)
    record_many(tenant, AuditAction.USER_CREATED, users, actor=actor, origin=origin,
                user_of=lambda user: user,
                detail_of=lambda user: {"source": "local",
                                        "temporary_password": user.must_change_password})
    return users


@transaction.atomic
def do_set_users_active(tenant, users: Sequence[User], active: bool, *, actor,
                        origin=None) -> int:
    ids = [user.pk for user in users if user.is_active != active and user.pk != getattr(
        actor, "pk", None)]
    changed = User.objects.for_tenant(tenant).filter(pk__in=ids).update(is_active=active)
    if changed:  # one event per user, so that each user's own trail shows it
        chosen = set(ids)
        record_many(tenant, AuditAction.USER_UPDATED,
                    [user for user in users if user.pk in chosen], actor=actor,
                    origin=origin, user_of=lambda user: user,
                    detail_of=lambda user: {"is_active": active})
    return changed


@transaction.atomic
def do_update_user(tenant, user: User, *, actor, origin=None, **changes) -> User:
    allowed = {"first_name", "last_name", "role", "is_active", "require_registration_pin"}
    fields = sorted(name for name in set(changes) & allowed
                    if getattr(user, name) != changes[name])
    if not fields:
        return user  # nothing changes: no write, no event
    for name in fields:
        setattr(user, name, changes[name])
    user.save(update_fields=fields)
    record(tenant, AuditAction.USER_UPDATED, actor=actor, target=user, user=user,
           origin=origin, detail={name: changes[name] for name in fields})
    return user
