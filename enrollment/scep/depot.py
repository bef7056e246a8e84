"""The CA depot: issue a certificate and store it under a unique random serial.

micromdm's file depot reads and bumps a serial file, and loses certificates under concurrent
load. Here the serial is random and the database's unique constraint arbitrates: a colliding
insert fails inside its savepoint and the certificate is re-signed with a new serial.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import IntegrityError, transaction

from ..models import IssuedCertificate
from ..pki.authority import fingerprint, random_serial, subject_text
from ..pki.issuance import issue_certificate
from .signer import SignRequest

MAX_SERIAL_ATTEMPTS = 5


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value)[:200] if names else ""


def issue(req: SignRequest) -> IssuedCertificate:
    for attempt in range(MAX_SERIAL_ATTEMPTS):
        serial = random_serial()
        certificate = issue_certificate(req.request.csr, req.ca, serial=serial,
                                        validity_days=settings.MDM_CERTIFICATE_VALIDITY_DAYS)
        try:
            with transaction.atomic():
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
        except IntegrityError:
            if attempt == MAX_SERIAL_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
