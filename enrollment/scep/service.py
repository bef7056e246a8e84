"""The SCEP service: one PKIOperation in, one CertRep (or a plain 400) out.

Parsing and crypto live in `messages`; policy in `signer`; storage in `depot`. This module
decides the reply, has an issuance stored in one write, and audits every refusal with its
reason. The tenant's RA signs every CertRep; requests are read when encrypted to the RA or to
its CA (RFC 8894 clients use the RA; clients that took the CA, and older ones, the CA).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.events import AuditAction
from audit.record import event as audit_event
from audit.record import record
from enrollment.models import CertificateAuthority, IssuedCertificate
from enrollment.scep import depot
from enrollment.scep.capabilities import get_ca_cert_response
from enrollment.scep.errors import ReplyTo, ScepError, UnparseableMessage
from enrollment.scep.messages import (
    CertificationRequest,
    PKIMessage,
    build_cert_rep_failure,
    build_cert_rep_success,
    decrypt_request,
    parse_pki_message,
)
from enrollment.scep.oids import FailInfo, MessageType
from enrollment.scep.signer import PolicyRejection, SignRequest, authorize, check_csr, check_time
from enrollment.scep.transport import PKI_MESSAGE_CONTENT_TYPE
from enrollment.services.authorities import key_pair, ra_key_pair, with_ra
from enrollment.services.challenges import hash_challenge
from pki.authority import KeyPair

logger = logging.getLogger(__name__)

signer = check_time(check_csr(authorize(depot.sign)))


@dataclass(frozen=True)
class ScepReply:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Keys:
    """What one PKIOperation signs and decrypts with: the CA issues, the RA answers."""

    ca: KeyPair
    ra: KeyPair


def _reject(tenant, keys: Keys, reply_to: ReplyTo, fail_info: FailInfo, reason: str,
            origin=None, detail: dict | None = None) -> ScepReply:
    record(tenant, AuditAction.SCEP_REJECTED, actor="scep", origin=origin, detail={
        "reason": reason, "fail_info": fail_info.name, "transaction_id": reply_to.transaction_id,
        **(detail or {}),
    })
    logger.info("SCEP request refused for tenant %s: %s", tenant.slug, reason)
    body = build_cert_rep_failure(reply_to, fail_info, keys.ra.key, keys.ra.certificate)
    return ScepReply(200, PKI_MESSAGE_CONTENT_TYPE, body)


def _success(msg: PKIMessage, issued: IssuedCertificate, keys: Keys) -> ScepReply:
    certificate = x509.load_der_x509_certificate(bytes(issued.certificate_der))
    ca = keys.ca
    # Under an intermediate CA, the whole path: the issuing CA and its issuers.
    chain = (ca.certificate, *ca.chain) if ca.chain else ()
    body = build_cert_rep_success(msg, certificate, keys.ra.key, keys.ra.certificate,
                                  chain=chain)
    return ScepReply(200, PKI_MESSAGE_CONTENT_TYPE, body)


def _spki(key) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _issued_for(issued: IssuedCertificate, public_key) -> bool:
    """Whether ``issued`` certifies ``public_key``."""
    certificate = x509.load_der_x509_certificate(bytes(issued.certificate_der))
    return _spki(certificate.public_key()) == _spki(public_key)


def _resent(tenant, msg: PKIMessage, creq: CertificationRequest) -> IssuedCertificate | None:
    """The certificate already issued for this very request (same transaction, key and
    challenge): a client that lost our reply and sent again gets it back, not a refusal."""
    if not creq.challenge_password:
        return None
    candidate = (IssuedCertificate.objects.for_tenant(tenant)
                 .filter(transaction_id=msg.transaction_id[:128], revoked_at__isnull=True,
                         challenge__challenge_hash=hash_challenge(creq.challenge_password))
                 .first())
    if candidate is None or not _issued_for(candidate, creq.csr.public_key()):
        return None
    return candidate


def _issue(tenant, authority: CertificateAuthority, ca: KeyPair, msg: PKIMessage,
           creq: CertificationRequest, origin) -> IssuedCertificate:
    """Policies, signature, then one write: the grant spent, the certificate, its registration
    step and its audit event, all or nothing (`depot.store`). A challenge that cannot be spent
    is found by that write, after signing: a refusal costs one signature more, every accepted
    request one round trip less."""
    signed = signer(SignRequest(tenant, authority, ca, msg, creq))
    issued = signed.certificate
    renewal = issued.renewed_from_id is not None
    detail = {"serial": issued.serial_hex, "subject": issued.subject,
              "renewed_from": issued.renewed_from_id}
    if renewal:  # a RenewalReq, or a PKCSReq signed by the certificate it renews
        detail["message_type"] = msg.message_type.name
    audited = audit_event(
        tenant, AuditAction.CERTIFICATE_RENEWED if renewal else AuditAction.CERTIFICATE_ISSUED,
        actor="scep", target=issued, device=issued.device, origin=origin,
        detail=detail)  # the depot adds the challenge's id and purpose
    if not depot.store(signed, audited):
        raise signed.grant.refused()
    return issued


def _enroll(tenant, authority: CertificateAuthority, keys: Keys, msg: PKIMessage,
            origin) -> ScepReply:
    creq = decrypt_request(msg, keys.ra.key, keys.ra.certificate,
                           also=[(keys.ca.key, keys.ca.certificate)])
    try:
        for attempt in range(1, depot.MAX_SERIAL_ATTEMPTS + 1):
            try:
                issued = _issue(tenant, authority, keys.ca, msg, creq, origin)
                break
            except depot.SerialCollision as exc:
                logger.warning("SCEP serial collision for tenant %s: %s", tenant.slug, exc)
                if attempt == depot.MAX_SERIAL_ATTEMPTS:
                    raise PolicyRejection("certificate could not be stored",
                                          FailInfo.BAD_REQUEST) from exc
    except PolicyRejection as exc:
        if exc.reason == "challenge reused" and (resent := _resent(tenant, msg, creq)):
            return _success(msg, resent, keys)
        return _reject(tenant, keys, msg.reply_to, exc.fail_info, exc.reason, origin,
                       {"message_type": msg.message_type.name, **exc.detail})
    return _success(msg, issued, keys)


def _poll(tenant, keys: Keys, msg: PKIMessage, origin) -> ScepReply:
    """CertPoll: we never answer PENDING, so only a lost reply brings a client here. The
    certificate goes back only to the key it was issued for, the key that signs the poll."""
    issued = (IssuedCertificate.objects.for_tenant(tenant)
              .filter(transaction_id=msg.transaction_id[:128], revoked_at__isnull=True)
              .order_by("-created_at").first())
    if issued is None:
        return _reject(tenant, keys, msg.reply_to, FailInfo.BAD_CERT_ID,
                       "poll for an unknown transaction", origin)
    if not _issued_for(issued, msg.signer_cert.public_key()):
        return _reject(tenant, keys, msg.reply_to, FailInfo.BAD_CERT_ID,
                       "poll signed by another key than the certificate's", origin,
                       {"certificate_id": issued.pk})
    return _success(msg, issued, keys)


def get_ca_cert(authority: CertificateAuthority) -> ScepReply:
    """GetCACert: the CA, its chain, then the RA that signs CertReps and that requests are
    encrypted to (RFC 8894 4.2.1.2); clients tell the RA by its key usage."""
    if authority.ra_certificate_der is None:
        authority = with_ra(authority)
    # An RA certificate (random serial and key) belongs to one CA: with the row's id it
    # names the answer, whatever rows tests roll back and ids come again.
    content_type, body = _ca_certificates(authority, bytes(authority.ra_certificate_der))
    return ScepReply(200, content_type, body)


@lru_cache(maxsize=256)  # a third of SCEP requests: built once per CA and process
def _ca_certificates(authority: CertificateAuthority, ra_der: bytes) -> tuple[str, bytes]:
    ca, ra = key_pair(authority), ra_key_pair(authority)
    return get_ca_cert_response([ca.certificate, *ca.chain, ra.certificate])


def handle_pki_operation(tenant, authority: CertificateAuthority, body: bytes,
                         origin=None) -> ScepReply:
    keys = Keys(key_pair(authority), ra_key_pair(authority))
    msg = None
    try:
        msg = parse_pki_message(body)
        if msg.message_type in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ):
            return _enroll(tenant, authority, keys, msg, origin)
        if msg.message_type == MessageType.CERT_POLL:
            return _poll(tenant, keys, msg, origin)
        return _reject(tenant, keys, msg.reply_to, FailInfo.BAD_REQUEST,
                       f"unsupported message type {msg.message_type.name}", origin)
    except UnparseableMessage as exc:
        record(tenant, AuditAction.SCEP_REJECTED, actor="scep", origin=origin,
               detail={"reason": "unparseable", "error": str(exc)[:200]})
        return ScepReply(400, "text/plain", b"Malformed SCEP message.\n")
    except ScepError as exc:
        # Once the message is parsed, any error can be answered: e.g. a CertPoll's
        # unreadable envelope, found while building the reply.
        reply_to = exc.reply_to or (msg.reply_to if msg is not None else None)
        if reply_to is None:  # the parser promises reply_to on these; be safe anyway
            return ScepReply(400, "text/plain", b"Malformed SCEP message.\n")
        return _reject(tenant, keys, reply_to, exc.fail_info or FailInfo.BAD_REQUEST,
                       str(exc)[:200], origin)
