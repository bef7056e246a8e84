"""The SCEP signer and the policies that wrap it (micromdm/scep shape):

    signer = check_time(check_csr(authorize(issue)))

Each policy takes a `SignRequest`, refuses with `PolicyRejection` (mapped to a CertRep failInfo
and an audit reason), or passes it on. `issue` is the depot's insert. Everything here runs in
the caller's transaction, so a refusal after the challenge was consumed rolls it back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone

from ..models import CertificateAuthority, Challenge, IssuedCertificate
from ..pki.authority import KeyPair, fingerprint
from ..services.challenges import ChallengeRejected, consume_challenge
from .messages import CertificationRequest, PKIMessage
from .oids import FailInfo, MessageType

CLOCK_SKEW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class SignRequest:
    tenant: object
    authority: CertificateAuthority
    ca: KeyPair
    message: PKIMessage
    request: CertificationRequest
    challenge: Challenge | None = None
    renewed_from: IssuedCertificate | None = None


class PolicyRejection(Exception):
    def __init__(self, reason: str, fail_info: FailInfo, detail: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.fail_info = fail_info
        self.detail = detail or {}


Signer = Callable[[SignRequest], IssuedCertificate]


def authorize(next_signer: Signer) -> Signer:
    """PKCSReq needs this tenant's one-time challenge; RenewalReq needs to be signed by a
    valid, unrevoked certificate of this tenant's CA (then no challenge is needed)."""

    def signer(req: SignRequest) -> IssuedCertificate:
        if req.message.message_type == MessageType.RENEWAL_REQ:
            return next_signer(replace(req, renewed_from=_renewable(req)))
        try:
            challenge = consume_challenge(req.tenant, req.request.challenge_password)
        except ChallengeRejected as exc:
            detail = {}
            if exc.challenge is not None:
                detail["challenge_id"] = exc.challenge.pk
                registration = getattr(exc.challenge, "registration", None)
                if registration is not None:
                    detail["registration_id"] = registration.pk
            raise PolicyRejection(f"challenge {exc.reason}", FailInfo.BAD_REQUEST,
                                  detail) from None
        return next_signer(replace(req, challenge=challenge))

    return signer


def _renewable(req: SignRequest) -> IssuedCertificate:
    previous = (IssuedCertificate.objects.for_tenant(req.tenant).select_for_update()
                .filter(fingerprint_sha256=fingerprint(req.message.signer_cert)).first())
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
    """A key strong enough to be a device identity, and a subject to name it."""

    def signer(req: SignRequest) -> IssuedCertificate:
        key = req.request.csr.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise PolicyRejection("CSR key too small", FailInfo.BAD_REQUEST,
                                      {"key_size": key.key_size})
        elif not (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size >= 256):
            raise PolicyRejection("CSR key type not accepted", FailInfo.BAD_ALG)
        if len(req.request.csr.subject) == 0:
            raise PolicyRejection("CSR has an empty subject", FailInfo.BAD_REQUEST)
        return next_signer(req)

    return signer


def check_time(next_signer: Signer) -> Signer:
    """signingTime, when present, must be within a day of ours (devices drift; replays
    from long ago do not)."""

    def signer(req: SignRequest) -> IssuedCertificate:
        signing_time = req.message.signing_time
        if signing_time is not None and abs(timezone.now() - signing_time) > CLOCK_SKEW:
            raise PolicyRejection("signingTime out of range", FailInfo.BAD_TIME,
                                  {"signing_time": signing_time.isoformat()})
        return next_signer(req)

    return signer
