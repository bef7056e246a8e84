"""The CA depot: issue a certificate and store it under a unique random serial.

micromdm's file depot reads and bumps a serial file, and loses certificates under concurrent
load. Here the serial is random (159 bits) and the database's unique constraint arbitrates: a
colliding insert raises SerialCollision and the SCEP service runs the whole issuance again
(its transaction rolled back, the challenge with it) under a new serial. A savepoint around
each insert would cost every issuance two more round trips for an event that does not happen.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import IntegrityError

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


def issue(req: SignRequest) -> IssuedCertificate:
    """Sign the CSR under a fresh random serial and store the certificate. Call inside the
    issuance transaction; on SerialCollision that transaction must be rolled back."""
    serial = random_serial()
    certificate = issue_certificate(req.request.csr, req.ca, serial=serial,
                                    validity_days=settings.MDM_CERTIFICATE_VALIDITY_DAYS)
    try:
        return IssuedCertificate.objects.create(
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
    except IntegrityError as exc:
        raise SerialCollision(f"serial {serial:040x}") from exc
