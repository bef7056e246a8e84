"""The LDAP connector's state changes: save its settings, test it, sync the directory.

`do_sync_ldap` reads the whole directory before writing anything; if the read fails, the error
is recorded on the connector and no account changes. The write is one transaction with a
constant number of queries (one read of the tenant's accounts, one INSERT, one UPDATE for the
changed accounts, one UPDATE for the disabled ones), whatever the directory size.

Audit: one `ldap.synced` event per sync with the counts and up to `AUDIT_IDS_CAP` ids of the
created, re-enabled and disabled accounts (one event per account would be 10,000 rows for a
first import); failures write one `ldap.sync_failed` event with the message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core.locks import transaction_lock
from users.ldap.client import ConnectionTestResult, LdapClient, LdapError
from users.ldap.sync import SYNCED_FIELDS, plan_sync
from users.models import LdapConnector, LdapSyncStatus, Tenant, User, UserRole, UserSource

AUDIT_IDS_CAP = 100
LOCK_TIMEOUT_SECONDS = 3600  # cache lock (non-PostgreSQL) expiry if a worker dies holding it

# Fields an administrator sets (API and portal); the bind password goes separately.
CONNECTOR_FIELDS = (
    "server_urls", "start_tls", "ca_certificate_pem", "bind_dn", "base_dn", "user_filter",
    "email_attribute", "first_name_attribute", "last_name_attribute", "unique_id_attribute",
    "is_enabled", "sync_interval_minutes",
)


class LdapNotConfigured(Exception):
    """The tenant has no LDAP connector."""


@dataclass(frozen=True)
class SyncOutcome:
    status: str  # "succeeded", "failed" or "skipped" (another sync of the tenant is running)
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        return {"status": self.status, "counts": self.counts, "problems": self.problems,
                "error": self.error}


def get_connector(tenant: Tenant) -> LdapConnector | None:
    return LdapConnector.objects.for_tenant(tenant).first()


class BindPasswordRequired(ValidationError):
    """The bind password must be given (again) for this change: refused for what is stored,
    not for the input alone (the API answers 409)."""


@transaction.atomic
def do_save_ldap_connector(tenant: Tenant, *, actor, bind_password: str | None = None,
                           **values) -> LdapConnector:
    """Create or update the tenant's connector. `bind_password` None or "" keeps the stored
    one. The audit event names the changed fields, never the password."""
    unknown = set(values) - set(CONNECTOR_FIELDS)
    if unknown:
        raise TypeError(f"unknown connector fields: {sorted(unknown)}")
    connector = (LdapConnector.objects.for_tenant(tenant).select_for_update().first()
                 or LdapConnector(tenant=tenant))
    created = connector.pk is None
    changed = [name for name, value in values.items() if getattr(connector, name) != value]
    if "server_urls" in changed and not created and connector.has_bind_password \
            and not bind_password:
        # The stored password goes to whatever host is configured: a new host gets it only
        # from whoever types it again, not from whoever may edit the settings.
        raise BindPasswordRequired({"bind_password": "Enter the bind password again when "
                                                     "changing the servers."})
    for name in changed:
        setattr(connector, name, values[name])
    if bind_password:
        connector.set_bind_password(bind_password)
        changed.append("bind_password")
    connector.full_clean(exclude=["tenant"])
    connector.save()
    record(tenant, AuditAction.LDAP_CONNECTOR_SAVED, actor=actor, target=connector,
           detail={"created": created, "changed": changed})
    return connector


def check_ldap_connection(tenant: Tenant) -> ConnectionTestResult:
    """Bind with the stored settings and run the user search once. Writes nothing."""
    connector = get_connector(tenant)
    if connector is None:
        return ConnectionTestResult(ok=False, message="No LDAP connector is configured.")
    try:
        return LdapClient(connector.client_settings()).test_connection()
    except LdapError as exc:
        return ConnectionTestResult(ok=False, message=str(exc))


def _sync_lock(tenant_id: int):
    """True when this run may sync the tenant; False when another run holds the lock (held to
    the end of the sync's transaction)."""
    return transaction_lock(f"ldap-sync:{tenant_id}", LOCK_TIMEOUT_SECONDS)


@transaction.atomic
def do_sync_ldap(tenant: Tenant, *, actor) -> SyncOutcome:
    """Bring the tenant's directory accounts in line with the directory (see module doc).

    The whole run sits in one transaction so the advisory lock covers the directory read too
    (a concurrent run is skipped, not queued); nothing is written until the read is complete,
    and the writes go in a savepoint, so a failure records the error and changes no account."""
    connector = get_connector(tenant)
    if connector is None:
        raise LdapNotConfigured("No LDAP connector is configured.")
    if not connector.is_enabled:
        return SyncOutcome(status="failed", error="The LDAP connector is disabled.")
    with _sync_lock(tenant.id) as acquired:
        if not acquired:
            return SyncOutcome(status="skipped", error="Another sync of this directory is running.")
        started = time.monotonic()
        try:
            entries = list(LdapClient(connector.client_settings()).search_users())
        except LdapError as exc:
            return _record_failure(tenant, connector, str(exc), actor=actor, started=started)
        try:
            with transaction.atomic():
                return _write(tenant, connector, entries, actor=actor, started=started)
        except _Refused as exc:
            return _record_failure(tenant, connector, str(exc), actor=actor, started=started)
        except IntegrityError:
            # An account was created or changed between our read and our write.
            return _record_failure(
                tenant, connector, "Accounts changed during the sync; it will be retried.",
                actor=actor, started=started)


class _Refused(Exception):
    pass


def _write(tenant: Tenant, connector: LdapConnector, entries, *, actor, started) -> SyncOutcome:
    now = timezone.now()
    users = User.objects.for_tenant(tenant).only(
        "id", "email", "first_name", "last_name", "source", "is_active", "external_id",
        "ldap_dn", "ldap_missing_since", "tenant_id")
    plan = plan_sync(entries, users, now=now)
    if not entries and plan.to_disable_ids:
        # An empty result is far likelier a wrong base DN or filter than an empty company.
        raise _Refused(f"The directory returned no users; refusing to disable all "
                       f"{len(plan.to_disable_ids)} directory accounts. Check the filter.")

    new_users = []
    for entry in plan.to_create:
        user = User(tenant=tenant, email=entry.email, first_name=entry.first_name[:150],
                    last_name=entry.last_name[:150], role=UserRole.USER, source=UserSource.LDAP,
                    external_id=entry.unique_id, ldap_dn=entry.dn, date_joined=now)
        user.set_unusable_password()  # they sign in with their directory password
        new_users.append(user)
    if new_users:
        User.objects.bulk_create(new_users)
    if plan.to_update:
        _update_rows(tenant, plan.to_update, SYNCED_FIELDS)
    if plan.to_disable_ids:
        User.objects.for_tenant(tenant).filter(pk__in=plan.to_disable_ids).update(
            is_active=False, ldap_missing_since=now)

    counts = plan.counts(created=len(new_users))
    problems = [p.as_dict() for p in plan.problems]
    connector.last_sync_at = now
    connector.last_sync_status = LdapSyncStatus.SUCCEEDED
    connector.last_sync_counts = counts
    connector.last_sync_problems = problems
    connector.last_sync_error = ""
    connector.last_sync_duration_ms = int((time.monotonic() - started) * 1000)
    connector.save(update_fields=["last_sync_at", "last_sync_status", "last_sync_counts",
                                  "last_sync_problems", "last_sync_error",
                                  "last_sync_duration_ms"])
    record(tenant, AuditAction.LDAP_SYNCED, actor=actor, target=connector, detail={
        "counts": counts,
        "created_user_ids": [u.pk for u in new_users[:AUDIT_IDS_CAP]],
        "reenabled_user_ids": plan.reenabled_ids[:AUDIT_IDS_CAP],
        "disabled_user_ids": plan.to_disable_ids[:AUDIT_IDS_CAP],
        "ids_truncated": max(len(new_users), len(plan.reenabled_ids),
                             len(plan.to_disable_ids)) > AUDIT_IDS_CAP,
        "problems": problems[:20],
    })
    return SyncOutcome(status="succeeded", counts=counts, problems=problems)


def _update_rows(tenant: Tenant, users: list[User], fields: tuple[str, ...]) -> None:
    """Write `fields` of every user in one statement.

    Django's bulk_update builds a CASE WHEN per row and field, which PostgreSQL evaluates row by
    row: quadratic (a 10,000-account rename took minutes). On PostgreSQL we join the table to
    one array per column instead (UPDATE ... FROM unnest(...)): one query, linear time, and a
    fixed number of parameters whatever the row count."""
    if connection.vendor != "postgresql":
        User.objects.bulk_update(users, fields, batch_size=500)
        return
    quote = connection.ops.quote_name
    columns = [User._meta.get_field(name) for name in fields]
    arrays = [[user.pk for user in users]] + [
        [column.get_db_prep_save(getattr(user, column.attname), connection) for user in users]
        for column in columns]
    casts = ", ".join(["%s::bigint[]"] + [f"%s::{column.db_type(connection)}[]"
                                          for column in columns])
    names = ", ".join(quote(column.column) for column in columns)
    assignments = ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(User._meta.db_table)} AS u SET {assignments} "  # noqa: S608 - names from the model
            f"FROM unnest({casts}) AS v(id, {names}) WHERE u.id = v.id AND u.tenant_id = %s",
            [*arrays, tenant.id])


def _record_failure(tenant, connector, message: str, *, actor, started) -> SyncOutcome:
    connector.last_sync_at = timezone.now()
    connector.last_sync_status = LdapSyncStatus.FAILED
    connector.last_sync_counts = {}
    connector.last_sync_problems = []
    connector.last_sync_error = message
    connector.last_sync_duration_ms = int((time.monotonic() - started) * 1000)
    connector.save(update_fields=["last_sync_at", "last_sync_status", "last_sync_counts",
                                  "last_sync_problems", "last_sync_error",
                                  "last_sync_duration_ms"])
    record(tenant, AuditAction.LDAP_SYNC_FAILED, actor=actor, target=connector,
           detail={"error": message[:1000]})
    return SyncOutcome(status="failed", error=message)


def connectors_due_for_sync() -> list[LdapConnector]:
    """Enabled connectors of active tenants whose interval has elapsed (for the periodic task)."""
    now = timezone.now()
    candidates = LdapConnector.objects.filter(is_enabled=True, tenant__is_active=True)
    return [c for c in candidates if c.is_sync_due(now)]
