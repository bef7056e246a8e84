"""Storage side of Apple device identity: the tenant's CA certificates, the issued certificate
a request's identity maps to, and the channel rows the check-in service works on.

``identity.presented_certificate`` and ``issued_certificate`` are the identity "middleware" of
DESIGN.md: extract the certificate (Mdm-Signature or forwarded TLS client certificate), verify
it against the tenant's CA, and map it to an unrevoked IssuedCertificate of the tenant. They
never see an HttpRequest.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from cryptography import x509
from django.db import connection
from django.utils import timezone

from core.prepared import PreparedStatement
from devices.apple import identity
from devices.apple.commands import delivery_ctes, sql_literals
from devices.models import AppleChannel, Device
from devices.models.commands import PENDING_STATUSES
from devices.models.devices import GONE_STATES
from enrollment.models import CertificateAuthority, IssuedCertificate
from pki.authority import fingerprint

# Name of the request header a TLS-terminating proxy forwards the client certificate in, e.g.
# "X-Client-Cert" (nginx: proxy_set_header X-Client-Cert $ssl_client_escaped_cert). Unset:
# only Mdm-Signature is accepted. Never set it unless the proxy strips the header from clients.
CLIENT_CERT_HEADER_ENV = "MDM_CLIENT_CERT_HEADER"


class UnknownCertificate(identity.IdentityError):
    reason = "unknown_certificate"


class RevokedCertificate(identity.IdentityError):
    reason = "revoked"

    def __init__(self, message: str, issued: IssuedCertificate):
        super().__init__(message)
        self.issued = issued


def client_cert_meta_key() -> str | None:
    """The WSGI environ key of the configured forwarded-certificate header, if any."""
    name = os.environ.get(CLIENT_CERT_HEADER_ENV, "").strip()
    if not name:
        return None
    return "HTTP_" + name.upper().replace("-", "_")


def tenant_ca_certificates(tenant) -> list[x509.Certificate]:
    """Every CA certificate of the tenant, active or not: devices enrolled under a rotated CA
    keep their identity."""
    rows = CertificateAuthority.objects.for_tenant(tenant).values_list("certificate_der",
                                                                        flat=True)
    return [identity.load_certificate(bytes(der)) for der in rows]


def _issued_query(tenant):
    return (IssuedCertificate.objects.for_tenant(tenant)
            .select_related("device", "authority")
            .defer("certificate_der", "authority__private_key_encrypted"))


def issued_certificate(tenant, cert: x509.Certificate, *,
                       candidate: IssuedCertificate | None = None) -> IssuedCertificate:
    """The tenant's unrevoked IssuedCertificate that ``cert`` is; IdentityError otherwise.

    ``candidate`` (the certificate bound to the channel the message names, fetched with it)
    saves the lookup on the hot path. The chain is checked against the issuing CA of the
    stored row, which is one of the tenant's CAs, active or rotated out; a certificate we do
    not know is checked against all of them to say why it is refused."""
    digest = fingerprint(cert)
    issued = candidate if candidate is not None and candidate.fingerprint_sha256 == digest \
        else _issued_query(tenant).filter(fingerprint_sha256=digest).first()
    now = timezone.now()
    if issued is None:
        identity.verify_chain(cert, tenant_ca_certificates(tenant), now)
        raise UnknownCertificate("signed by our CA but not a certificate we issued")
    issuer = identity.load_certificate(bytes(issued.authority.certificate_der))
    identity.verify_chain(cert, [issuer], now)
    if issued.revoked_at is not None:
        raise RevokedCertificate(f"certificate {issued.serial_hex} is revoked", issued)
    return issued


@dataclass(frozen=True)
class ReportTarget:
    """What the Idle hot path needs about the channel a ServerURL report names: the channel,
    its device, and the certificate bound to it with the CA that issued it."""

    channel_pk: int
    enabled: bool
    is_user_channel: bool
    last_seen_at: dt.datetime | None
    device_pk: int
    device_udid: str
    device_state: str
    device_last_seen_at: dt.datetime | None
    certificate_pk: int | None
    certificate_fingerprint: str | None
    certificate_revoked: bool
    authority_certificate_der: bytes | None


# One statement instead of an ORM join: compiling a four-table select_related costs more than
# the query itself, and Idle is what every device sends all day. The Idle statement below
# works on the same join.
_TARGET_FROM = f"""FROM {AppleChannel._meta.db_table} c
JOIN {Device._meta.db_table} d ON d.id = c.device_id
LEFT JOIN {IssuedCertificate._meta.db_table} i ON i.id = c.certificate_id
LEFT JOIN {CertificateAuthority._meta.db_table} a ON a.id = i.authority_id"""
_REPORT_TARGET_SQL = f"""SELECT c.id, c.enabled, c.is_user_channel, c.last_seen_at, d.id,
       d.udid, d.state, d.last_seen_at, i.id, i.fingerprint_sha256,
       i.revoked_at IS NOT NULL, a.certificate_der
{_TARGET_FROM}
WHERE c.tenant_id = %s AND c.channel_id = %s
LIMIT 1"""


def report_target(tenant, channel_id: str) -> ReportTarget | None:
    with connection.cursor() as cursor:
        cursor.execute(_REPORT_TARGET_SQL, [tenant.pk, channel_id])
        row = cursor.fetchone()
    return None if row is None else _target(row)


def _target(row) -> ReportTarget:
    (channel_pk, enabled, is_user_channel, channel_seen, device_pk, udid, state, device_seen,
     certificate_pk, certificate_fingerprint, revoked, der) = row
    return ReportTarget(channel_pk, bool(enabled), bool(is_user_channel), _aware(channel_seen),
                        device_pk, udid, state, _aware(device_seen), certificate_pk,
                        certificate_fingerprint, bool(revoked),
                        bytes(der) if der is not None else None)


@dataclass(frozen=True)
class IdleOutcome:
    """What the one-statement Idle did: ``handled`` means the request's certificate was the
    channel's, everything was in order, and ``command`` (None: empty queue) was delivered;
    otherwise ``target`` says what the general path needs to explain the refusal."""

    target: ReportTarget | None
    handled: bool
    command: bytes | None = None


# The whole Idle in one round trip (PostgreSQL): read the channel with its device and bound
# certificate, and only when the presented certificate is that unrevoked, in-date certificate
# of an enabled, managed device: hand out the oldest pending command and refresh last-seen
# (to the minute). Data-modifying CTEs always run, whether or not the SELECT reads them.
# It answers only "accepted?" and the command: a refusal reads the target again
# (report_target), which costs a rare request one more query and every Idle less decoding.
LAST_SEEN_RESOLUTION = dt.timedelta(seconds=60)  # fewer writes: last seen to the minute
# Constants of the statement text (not user input): fewer parameters to send and type.
_GONE = sql_literals(GONE_STATES)
_PENDING = sql_literals(PENDING_STATUSES)
_STALE = f"interval '{int(LAST_SEEN_RESOLUTION.total_seconds())} seconds'"

_IDLE = PreparedStatement("mdm_apple_idle", f"""
WITH target AS (
    SELECT c.id AS channel_pk, c.last_seen_at AS channel_seen, d.id AS device_pk,
           d.last_seen_at AS device_seen,
           COALESCE(i.fingerprint_sha256 = $3 AND i.revoked_at IS NULL
                    AND i.not_before <= clock_timestamp() AND clock_timestamp() < i.not_after
                    AND a.not_before <= clock_timestamp() AND clock_timestamp() < a.not_after
                    AND c.enabled AND d.state NOT IN ({_GONE}), FALSE) AS accepted
    {_TARGET_FROM}
    WHERE c.tenant_id = $1 AND c.channel_id = $2
    LIMIT 1
), {delivery_ctes("(SELECT channel_pk FROM target WHERE accepted)", _PENDING,
                   "clock_timestamp()")}, seen_channel AS (
    UPDATE {AppleChannel._meta.db_table} SET last_seen_at = clock_timestamp()
    WHERE id = (SELECT channel_pk FROM target
                WHERE accepted AND (channel_seen IS NULL
                                    OR channel_seen < clock_timestamp() - {_STALE}))
), seen_device AS (
    UPDATE {Device._meta.db_table} SET last_seen_at = clock_timestamp()
    WHERE id = (SELECT device_pk FROM target
                WHERE accepted AND (device_seen IS NULL
                                    OR device_seen < clock_timestamp() - {_STALE}))
)
SELECT accepted, (SELECT command_plist FROM picked) FROM target
""", types=("bigint", "text", "text"), columns=("bool", "bytea"))  # noqa: S608


def idle(tenant, channel_id: str, cert: x509.Certificate) -> IdleOutcome:
    """Serve an Idle in one statement when nothing is unusual; otherwise (and on SQLite) only
    read the target and leave the refusal, or the general path, to the caller."""
    if connection.vendor == "postgresql":
        row = _IDLE.fetchone([tenant.pk, channel_id, fingerprint(cert)])
        if row is not None and row[0]:
            return IdleOutcome(None, handled=True, command=row[1])
    return IdleOutcome(report_target(tenant, channel_id), handled=False)


def _aware(value) -> dt.datetime | None:
    """Raw rows: PostgreSQL gives aware datetimes; SQLite (embedded mode) naive UTC ones or
    text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def bound_certificate_matches(target: ReportTarget, cert: x509.Certificate) -> bool:
    """The fast identity check: ``cert`` is the unrevoked certificate bound to the target's
    channel (same bytes, fingerprint compared) and chains to the CA that issued it."""
    if target.certificate_fingerprint is None or target.certificate_revoked:
        return False
    if fingerprint(cert) != target.certificate_fingerprint:
        return False
    identity.verify_chain(cert, [identity.load_certificate(target.authority_certificate_der)],
                          timezone.now())
    return True
