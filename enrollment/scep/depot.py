"""The CA depot: sign a certificate under a random serial, and store it with what it spends.

micromdm's file depot reads and bumps a serial file, and loses certificates under concurrent
load. Here the serial is random (159 bits) and the database's unique constraint arbitrates: a
colliding insert raises SerialCollision, nothing is written, and the SCEP service signs again
under a new serial.

On PostgreSQL one statement stores an issuance: its grant (the challenge spent, or the renewed
certificate checked), the certificate, the registration step and the audit event, as
data-modifying CTEs that commit together or not at all. One round trip, and no transaction
block to open and close around it: under load every round trip costs a worker about as much
CPU as an RSA signature. On SQLite (the embedded mode) the same statements run one by one in a
transaction.
"""

from __future__ import annotations

import contextlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from audit.models import AuditEvent
from core import sql
from enrollment.models import IssuedCertificate
from enrollment.scep.signer import Signed, SignRequest
from enrollment.services.registrations import certificate_issued_update
from pki.authority import fingerprint, random_serial, subject_text
from pki.issuance import issue_certificate

MAX_SERIAL_ATTEMPTS = 5  # issuance attempts (the service's loop) before giving up


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value)[:200] if names else ""


class SerialCollision(Exception):
    """The insert hit a unique constraint (the serial, in practice): sign again."""


def sign(req: SignRequest) -> Signed:
    """Sign the CSR under a fresh random serial: the certificate's row, not stored yet."""
    serial = random_serial()
    certificate = issue_certificate(req.request.csr, req.ca, serial=serial,
                                    validity_days=settings.MDM_CERTIFICATE_VALIDITY_DAYS)
    return Signed(IssuedCertificate(
        tenant=req.tenant,
        authority=req.authority,
        serial_hex=f"{serial:040x}",
        subject=subject_text(certificate.subject)[:500],
        common_name=_common_name(certificate),
        fingerprint_sha256=fingerprint(certificate),
        certificate_der=certificate.public_bytes(Encoding.DER),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        renewed_from=req.renewed_from,
        device_id=req.renewed_from.device_id if req.renewed_from else None,
        transaction_id=req.message.transaction_id[:128],
    ), req.grant)


def store(signed: Signed, event: AuditEvent | None = None) -> bool:
    """Store the signed certificate if its grant still holds, with the registration step of
    its challenge and its audit ``event`` (target: the certificate; the challenge's id and
    purpose join its detail). False: the grant no longer holds, nothing is written.
    SerialCollision: nothing is written either; sign again."""
    try:
        if connection.vendor == "postgresql":
            with _savepoint_inside_a_transaction():
                return _store_in_one_statement(signed, event)
        with transaction.atomic():
            return _store_one_by_one(signed, event)
    except IntegrityError as exc:
        raise SerialCollision(f"serial {signed.certificate.serial_hex}") from exc


def _savepoint_inside_a_transaction():
    """One statement is atomic on its own. Inside a caller's transaction (tests, a batch), a
    savepoint keeps a collision from aborting that transaction."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


_EVENT_CHALLENGE = ("%s::jsonb || jsonb_build_object("
                    "'challenge_id', authorized.challenge_id, 'purpose', authorized.purpose)")


def _store_in_one_statement(signed: Signed, event: AuditEvent | None) -> bool:
    issued, grant = signed.certificate, signed.grant
    parts, params = [f"authorized AS ({grant.sql})"], list(grant.params)
    statement, values = sql.insert(issued, source="authorized", returning="id",
                                   expressions={"challenge": "authorized.challenge_id"})
    parts.append(f"issued AS ({statement})")
    params += values
    statement, values = certificate_issued_update("(SELECT challenge_id FROM authorized)")
    parts.append(f"step AS ({statement})")  # a renewal's NULL challenge matches nothing
    params += values
    if event is not None:
        statement, values = sql.insert(event, source="issued, authorized", expressions={
            "target_id": "issued.id::text", "detail": _EVENT_CHALLENGE})
        parts.append(f"audited AS ({statement})")
        params += values
    # Every part is SQL built from model and table names; every value is a bound parameter.
    statement = (f"WITH {', '.join(parts)} SELECT issued.id, "  # noqa: S608
                 "authorized.challenge_id, authorized.purpose FROM issued, authorized")
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    if row is None:
        return False
    _stored(issued, event, *row)
    return True


def _store_one_by_one(signed: Signed, event: AuditEvent | None) -> bool:
    issued, grant = signed.certificate, signed.grant
    with connection.cursor() as cursor:
        cursor.execute(grant.sql, grant.params)
        row = cursor.fetchone()
        if row is None:
            return False
        challenge_id, purpose = row
        issued.challenge_id = challenge_id
        issued.save(force_insert=True)
        if challenge_id is not None:
            statement, values = certificate_issued_update("%s")
            cursor.execute(statement, [*values, challenge_id])
    _stored(issued, event, issued.pk, challenge_id, purpose)
    if event is not None:
        event.save(force_insert=True)
    return True


def _stored(issued: IssuedCertificate, event: AuditEvent | None, pk: int,
            challenge_id: int | None, purpose: str) -> None:
    """Bring the Python objects in line with the rows just written."""
    issued.pk, issued.challenge_id = pk, challenge_id
    issued._state.adding, issued._state.db = False, connection.alias
    if event is not None:
        event.target_id = str(pk)
        event.detail = {**event.detail, "challenge_id": challenge_id, "purpose": purpose}
