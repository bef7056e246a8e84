"""The check-in store's PostgreSQL fast path: what every device sends all day, in as few
statements as PostgreSQL allows. Everything else is the ORM store's (inherited).

- ``idle``: the whole Idle in one prepared statement, sent straight through libpq outside
  transactions (core/prepared.py): read the channel with its device and bound certificate
  and, only when the presented certificate is that unrevoked, in-date certificate of an
  enabled, managed device, hand out the oldest pending command and refresh last-seen (to the
  minute). It answers only "accepted?" and the command: a refusal reads the target again
  (``report_target``), which costs a rare request one more query and every Idle less work.
- ``report_target``: one SQL statement instead of an ORM join (compiling a four-table join
  costs more than the query itself).
- ``next_command``: pick and mark in one statement, without waiting for the WAL flush.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from core.prepared import PreparedStatement
from devices.apple.store import LAST_SEEN_RESOLUTION, IdleOutcome, OrmCheckinStore, ReportTarget
from devices.models import AppleChannel, Command, CommandStatus, Device
from devices.models.commands import PENDING_STATUSES
from devices.models.devices import GONE_STATES
from enrollment.models import CertificateAuthority, IssuedCertificate


def sql_literals(values) -> str:
    """Model choice values (never user input) as a SQL list, for statement text."""
    return ", ".join(f"'{value}'" for value in values)


def delivery_ctes(channel_sql: str, statuses_sql: str, now_sql: str) -> str:
    """SQL CTEs ``picked`` (the oldest waiting command of a channel: id, command_plist) and
    ``delivered`` (its delivery counted): the ORM store's ``next_command`` as one statement.
    A delivery is counted, and the command becomes queued again, only when the command was
    never sent or the device answered NotNow since, so a pending command costs an Idle no
    write."""
    table = Command._meta.db_table
    return f"""picked AS (
    SELECT id, command_plist, status, sent_at FROM {table}
    WHERE channel_id = {channel_sql} AND status IN ({statuses_sql})
    ORDER BY created_at, id LIMIT 1
), delivered AS (
    UPDATE {table}
    SET sent_at = {now_sql}, delivered_count = delivered_count + 1,
        status = '{CommandStatus.QUEUED}'
    WHERE id = (SELECT id FROM picked
                WHERE sent_at IS NULL OR status = '{CommandStatus.NOT_NOW}')
)"""  # noqa: S608 - table and status names from the models, SQL from this package


_NEXT_COMMAND_SQL = {
    skip: f"WITH {delivery_ctes('%s', sql_literals(statuses), '%s')} "  # noqa: S608
          "SELECT command_plist FROM picked"
    for skip, statuses in ((True, [CommandStatus.QUEUED]), (False, PENDING_STATUSES))
}

# The channel, its device, and the certificate bound to it with the CA that issued it.
_TARGET_FROM = f"""FROM {AppleChannel._meta.db_table} c
JOIN {Device._meta.db_table} d ON d.id = c.device_id
LEFT JOIN {IssuedCertificate._meta.db_table} i ON i.id = c.certificate_id
LEFT JOIN {CertificateAuthority._meta.db_table} a ON a.id = i.authority_id"""
_REPORT_TARGET_SQL = f"""SELECT c.id, c.enabled, c.is_user_channel, c.last_seen_at, d.id,
       d.udid, d.state, d.last_seen_at, i.id, i.fingerprint_sha256,
       i.revoked_at IS NOT NULL, i.not_before, i.not_after, a.certificate_der,
       a.not_before, a.not_after, c.previous_certificate_id, c.previous_certificate_until
{_TARGET_FROM}
WHERE c.tenant_id = %s AND c.channel_id = %s
LIMIT 1"""

# Constants of the statement text (not user input): fewer parameters to send and type.
_GONE = sql_literals(GONE_STATES)
_PENDING = sql_literals(PENDING_STATUSES)
_STALE = f"interval '{int(LAST_SEEN_RESOLUTION.total_seconds())} seconds'"

# ReportTarget.serves_idle in SQL, the delivery of next_command and mark_seen, in one round
# trip. Data-modifying CTEs always run, whether or not the SELECT reads them. $4 is the
# application's clock, the one the ORM store and every other check read (a simulation that
# moves it moves this too).
_IDLE = PreparedStatement("mdm_apple_idle", f"""
WITH target AS (
    SELECT c.id AS channel_pk, c.last_seen_at AS channel_seen, d.id AS device_pk,
           d.last_seen_at AS device_seen,
           COALESCE(i.fingerprint_sha256 = $3 AND i.revoked_at IS NULL
                    AND i.not_before <= $4 AND $4 < i.not_after
                    AND a.not_before <= $4 AND $4 < a.not_after
                    AND c.enabled AND d.state NOT IN ({_GONE}), FALSE) AS accepted
    {_TARGET_FROM}
    WHERE c.tenant_id = $1 AND c.channel_id = $2
    LIMIT 1
), {delivery_ctes("(SELECT channel_pk FROM target WHERE accepted)", _PENDING,
                   "$4")}, seen_channel AS (
    UPDATE {AppleChannel._meta.db_table} SET last_seen_at = $4
    WHERE id = (SELECT channel_pk FROM target
                WHERE accepted AND (channel_seen IS NULL
                                    OR channel_seen < $4 - {_STALE}))
), seen_device AS (
    UPDATE {Device._meta.db_table} SET last_seen_at = $4
    WHERE id = (SELECT device_pk FROM target
                WHERE accepted AND (device_seen IS NULL
                                    OR device_seen < $4 - {_STALE}))
)
SELECT accepted, (SELECT command_plist FROM picked) FROM target
""", types=("bigint", "text", "text", "timestamptz"), columns=("bool", "bytea"))  # noqa: S608

_REFUSED = IdleOutcome(accepted=False)


class PostgresCheckinStore(OrmCheckinStore):
    """``CheckinStore`` on PostgreSQL: the ORM store with the hot statements in SQL."""

    def idle(self, tenant, channel_id: str, fingerprint: str) -> IdleOutcome:
        row = _IDLE.fetchone([tenant.pk, channel_id, fingerprint, timezone.now()])
        if row is None or not row[0]:
            return _REFUSED
        return IdleOutcome(True, row[1])

    def report_target(self, tenant, channel_id: str) -> ReportTarget | None:
        with connection.cursor() as cursor:
            cursor.execute(_REPORT_TARGET_SQL, [tenant.pk, channel_id])
            row = cursor.fetchone()
        if row is None:
            return None
        (channel_pk, enabled, is_user_channel, channel_seen, device_pk, udid, state,
         device_seen, certificate_pk, certificate_fingerprint, revoked, not_before, not_after,
         der, authority_not_before, authority_not_after, previous_pk, previous_until) = row
        return ReportTarget(channel_pk, enabled, is_user_channel, channel_seen, device_pk, udid,
                            state, device_seen, certificate_pk, certificate_fingerprint,
                            bool(revoked), not_before, not_after,
                            None if der is None else bytes(der), authority_not_before,
                            authority_not_after, previous_pk, previous_until)

    def next_command(self, channel_pk: int, *, skip_not_now: bool) -> bytes | None:
        with connection.cursor() as cursor:
            # The delivery mark is bookkeeping: a crash may lose it without harm, so it does
            # not wait for the WAL flush (SET LOCAL: this statement's implicit transaction
            # only, unless the caller holds a transaction open).
            cursor.execute("SET LOCAL synchronous_commit TO OFF; "
                           + _NEXT_COMMAND_SQL[skip_not_now], [channel_pk, timezone.now()])
            cursor.nextset()
            row = cursor.fetchone()
        return bytes(row[0]) if row else None
