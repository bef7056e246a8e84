"""The SCEP signer and the policies that wrap it (micromdm/scep shape):

    signer = check_time(check_csr(authorize(issue)))

Each policy takes a `SignRequest`, refuses with `PolicyRejection` (mapped to a CertRep failInfo
and an audit reason), or passes it on. `issue` is the depot's signature. Nothing here writes:
`authorize` reads what it can and hands the depot a `Grant`, the SQL that spends the challenge
(or re-checks the renewed certificate) in the very statement that stores the certificate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.utils import timezone

from enrollment.models import CertificateAuthority, IssuedCertificate
from enrollment.scep.messages import CertificationRequest, PKIMessage
from enrollment.scep.oids import FailInfo, MessageType
from enrollment.services.challenges import ChallengeRejected, refusal, spend_statement
from pki.authority import KeyPair, fingerprint, subject_text
from pki.issuance import SUBJECT_UPPER_BOUNDS, allowed_subject

CLOCK_SKEW = dt.timedelta(hours=24)


class PolicyRejection(Exception):
    def __init__(self, reason: str, fail_info: FailInfo, detail: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.fail_info = fail_info
        self.detail = detail or {}


@dataclass(frozen=True)
class Grant:
    """What authorizes one issuance, checked by the write that stores it: ``sql`` yields one
    row (challenge_id, purpose) while the grant holds, spending it when it is single-use, and
    none once it does not; ``refused()`` then says why."""

    sql: str
    params: list
    refused: Callable[[], PolicyRejection]


@dataclass(frozen=True)
class SignRequest:
    tenant: object
    authority: CertificateAuthority
    ca: KeyPair
    message: PKIMessage
    request: CertificationRequest
    grant: Grant | None = None
    renewed_from: IssuedCertificate | None = None


@dataclass(frozen=True)
class Signed:
    certificate: IssuedCertificate  # its row, not stored yet
    grant: Grant


Signer = Callable[[SignRequest], Signed]


def _challenge_refused(exc: ChallengeRejected) -> PolicyRejection:
    detail = {}
    if exc.challenge is not None:
        detail["challenge_id"] = exc.challenge.pk
        registration = getattr(exc.challenge, "registration", None)
        if registration is not None:
            detail["registration_id"] = registration.pk
    return PolicyRejection(f"challenge {exc.reason}", FailInfo.BAD_REQUEST, detail)


def challenge_grant(tenant, raw: str | None, common_name: str,
                    detail: dict | None = None) -> Grant:
    """The grant of one-time challenge ``raw`` for a CSR named ``common_name`` (missing:
    refused at once). ``detail`` joins the audit detail of a refusal."""

    def refused(exc: ChallengeRejected) -> PolicyRejection:
        rejection = _challenge_refused(exc)
        rejection.detail.update(detail or {})
        return rejection

    try:
        statement, params = spend_statement(tenant, raw, common_name)
    except ChallengeRejected as exc:
        raise refused(exc) from None
    return Grant(statement, params, lambda: refused(refusal(tenant, raw, common_name)))


_RENEWABLE_SQL = (f"SELECT CAST(NULL AS bigint) AS challenge_id, '' AS purpose "  # noqa: S608
                  f"FROM {IssuedCertificate._meta.db_table} "
                  "WHERE id = %s AND revoked_at IS NULL")


def renewal_grant(previous: IssuedCertificate) -> Grant:
    """Renewing ``previous`` holds while it is unrevoked: a revocation that commits first wins."""
    return Grant(_RENEWABLE_SQL, [previous.pk], lambda: PolicyRejection(
        "renewal signer revoked", FailInfo.BAD_REQUEST, {"certificate_id": previous.pk}))


def authorize(next_signer: Signer) -> Signer:
    """A request signed by a certificate of this tenant's CA renews it: a RenewalReq, or a
    PKCSReq so signed (certmonger renews with one; the challenge it still carries, spent long
    ago, is not looked at). The certificate must be valid and unrevoked; then no challenge
    is needed (expired or revoked, a PKCSReq needs a fresh challenge). Any other PKCSReq
    (signed by a self-signed certificate, as on a first enrollment) needs this tenant's
    one-time challenge."""

    def signer(req: SignRequest) -> Signed:
        signer_cert = req.message.signer_cert
        renewal = req.message.message_type == MessageType.RENEWAL_REQ
        # A first enrollment's self-signed certificate cannot be ours: not looked up, so that
        # it still costs no read before the one write that stores the certificate.
        self_signed = signer_cert.issuer == signer_cert.subject
        signed_by_ours = _issued_here(req) if renewal or not self_signed else None
        challenge = req.request.challenge_password
        if renewal or signed_by_ours is not None:
            try:
                previous = _renewable(signed_by_ours)
            except PolicyRejection as refused:
                # A PKCSReq signed by our expired or revoked certificate may still enroll
                # afresh with a new one-time challenge (a device brought back with a new
                # profile); a RenewalReq, or no challenge, cannot.
                if renewal or not challenge:
                    raise
                signer_refused = {"signer_refused": refused.reason, **refused.detail}
            else:
                return next_signer(replace(req, renewed_from=previous,
                                           grant=renewal_grant(previous)))
        detail = signer_refused if signed_by_ours is not None else None
        if not self_signed and detail is None:
            # Signed by a certificate another CA issued (another tenant's, say): without a
            # challenge, a renewal sent to the wrong CA; with one, the challenge decides.
            detail = {"signer_issuer": subject_text(signer_cert.issuer)[:200]}
            if not challenge:
                raise PolicyRejection("renewal signer not issued by this CA",
                                      FailInfo.BAD_REQUEST, detail)
        names = req.request.csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else ""
        return next_signer(replace(req, grant=challenge_grant(req.tenant, challenge,
                                                              common_name, detail)))

    return signer


def _issued_here(req: SignRequest) -> IssuedCertificate | None:
    """The certificate of this tenant (any of its CAs, current or retired) that signed."""
    return (IssuedCertificate.objects.for_tenant(req.tenant)
            .filter(fingerprint_sha256=fingerprint(req.message.signer_cert)).first())


def _renewable(previous: IssuedCertificate | None) -> IssuedCertificate:
    if previous is None:
        raise PolicyRejection("renewal signer not issued by this CA", FailInfo.BAD_REQUEST)
    if previous.revoked_at is not None:
        raise PolicyRejection("renewal signer revoked", FailInfo.BAD_REQUEST,
                              {"certificate_id": previous.pk})
    now = timezone.now()
    if not previous.not_before <= now < previous.not_after:
        raise PolicyRejection("renewal signer expired", FailInfo.BAD_REQUEST,
                              {"certificate_id": previous.pk})
    return previous


def check_csr(next_signer: Signer) -> Signer:
    """A key strong enough to be a device identity, and a subject to name it: the attributes
    a certificate keeps (`allowed_subject`), within RFC 5280's length bounds."""

    def signer(req: SignRequest) -> Signed:
        key = req.request.csr.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise PolicyRejection("CSR key too small", FailInfo.BAD_REQUEST,
                                      {"key_size": key.key_size})
        elif not (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size >= 256):
            raise PolicyRejection("CSR key type not accepted", FailInfo.BAD_ALG)
        subject = allowed_subject(req.request.csr.subject)
        if len(subject) == 0:
            raise PolicyRejection("CSR subject has none of C, L, ST, O, OU, CN",
                                  FailInfo.BAD_REQUEST)
        for attribute in subject:
            if len(str(attribute.value)) > SUBJECT_UPPER_BOUNDS[attribute.oid]:
                raise PolicyRejection("CSR subject attribute too long", FailInfo.BAD_REQUEST,
                                      {"attribute": attribute.rfc4514_attribute_name})
        return next_signer(req)

    return signer


def check_time(next_signer: Signer) -> Signer:
    """signingTime, when present, must be within a day of ours (devices drift; replays
    from long ago do not)."""

    def signer(req: SignRequest) -> Signed:
        signing_time = req.message.signing_time
        if signing_time is not None and abs(timezone.now() - signing_time) > CLOCK_SKEW:
            raise PolicyRejection("signingTime out of range", FailInfo.BAD_TIME,
                                  {"signing_time": signing_time.isoformat()})
        return next_signer(req)

    return signer
