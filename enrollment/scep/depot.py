"""The CA depot: issue a certificate and store it under a unique random serial.

micromdm's file depot reads and bumps a serial file, and loses certificates under concurrent
load. Here the serial is random (159 bits) and the database's unique constraint arbitrates: a
colliding insert raises SerialCollision and the SCEP service runs the whole issuance again
(its transaction rolled back, the challenge with it) under a new serial. A savepoint around
each insert would cost every issuance two more round trips for an event that does not happen.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import IntegrityError, connection

from audit.models import AuditEvent
from mdm_server import sql

from ..models import IssuedCertificate
from ..pki.authority import fingerprint, random_serial, subject_text
from ..pki.issuance import issue_certificate
from .signer import SignRequest

MAX_SERIAL_ATTEMPTS = 5  # issuance attempts (the service's loop) before giving up


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value)[:200] if names else ""


class SerialCollision(Exception):
    """The insert hit a unique constraint (the serial, in practice): issue again."""


def sign(req: SignRequest) -> IssuedCertificate:
    """Sign the CSR under a fresh random serial: the certificate's row, not stored yet."""
    serial = random_serial()
    certificate = issue_certificate(req.request.csr, req.ca, serial=serial,
                                    validity_days=settings.MDM_CERTIFICATE_VALIDITY_DAYS)
    return IssuedCertificate(
        tenant=req.tenant,
        authority=req.authority,
        serial_hex=f"{serial:040x}",
        subject=subject_text(certificate.subject)[:500],
        common_name=_common_name(certificate),
        fingerprint_sha256=fingerprint(certificate),
        certificate_der=certificate.public_bytes(Encoding.DER),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        challenge=req.challenge,
        renewed_from=req.renewed_from,
        device_id=req.renewed_from.device_id if req.renewed_from else None,
        transaction_id=req.message.transaction_id[:128],
    )


def store(issued: IssuedCertificate, *, also: Sequence[tuple[str, list]] = (),
          event: AuditEvent | None = None) -> None:
    """Insert the certificate, then the ``also`` statements and its audit ``event`` (whose
    target is the certificate). On PostgreSQL all of it is one message, one round trip; call
    inside the issuance transaction. SerialCollision: roll that transaction back."""
    try:
        if connection.vendor == "postgresql":
            _store_in_one_message(issued, also, event)
            return
        issued.save(force_insert=True)
        with connection.cursor() as cursor:
            for statement, params in also:
                cursor.execute(statement, params)
        if event is not None:
            event.target_id = str(issued.pk)
            event.save(force_insert=True)
    except IntegrityError as exc:
        raise SerialCollision(f"serial {issued.serial_hex}") from exc


def _store_in_one_message(issued: IssuedCertificate, also: Sequence[tuple[str, list]],
                          event: AuditEvent | None) -> None:
    statement, params = sql.insert(issued, returning="id")
    statements = [statement]
    for extra, extra_params in also:
        statements.append(extra)
        params += extra_params
    if event is not None:
        table = IssuedCertificate._meta.db_table
        # The certificate's id, drawn by the INSERT above in this same session.
        own_id = f"currval(pg_get_serial_sequence('{table}', 'id'))::text"
        event_statement, event_params = sql.insert(event, expressions={"target_id": own_id})
        statements.append(event_statement)
        params += event_params
    with connection.cursor() as cursor:  # psycopg binds client-side: several statements go
        cursor.execute("; ".join(statements), params)
        issued.pk = cursor.fetchone()[0]
    issued._state.adding, issued._state.db = False, connection.alias
