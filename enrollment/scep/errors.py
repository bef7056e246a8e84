"""SCEP error hierarchy: each error maps to a CertRep failInfo, or to "unparseable" (HTTP 400).

Every function of this package that reads untrusted bytes raises only ``ScepError``
subclasses. An error raised once the transaction ID and sender nonce are known carries
them in ``reply_to`` so that the caller can answer with a signed CertRep FAILURE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from enrollment.scep.oids import FailInfo


@dataclass(frozen=True)
class ReplyTo:
    """What a CertRep needs from the request it answers."""

    transaction_id: str
    sender_nonce: bytes
    digest_algorithm: str  # "sha1" | "sha256" | "sha512": the CertRep signs with the same


class ScepError(Exception):
    """Base of all SCEP protocol errors."""

    fail_info: ClassVar[FailInfo | None] = None

    def __init__(self, message: str, *, reply_to: ReplyTo | None = None) -> None:
        super().__init__(message)
        self.reply_to = reply_to


class UnparseableMessage(ScepError):
    """Not a SCEP message we can answer with a CertRep: reply with a plain HTTP 400."""


class BadAlg(ScepError):
    """Unsupported digest, signature, key transport or content cipher."""

    fail_info = FailInfo.BAD_ALG


class BadMessageCheck(ScepError):
    """Signature, message digest, decryption or padding check failed."""

    fail_info = FailInfo.BAD_MESSAGE_CHECK


class BadRequest(ScepError):
    """Well signed but not acceptable: wrong message type, malformed CSR, refused policy."""

    fail_info = FailInfo.BAD_REQUEST


class BadTime(ScepError):
    """signingTime too far from the server's clock (checked by policy, not by the parser)."""

    fail_info = FailInfo.BAD_TIME


class BadCertId(ScepError):
    """The envelope is for another CA/RA certificate, or no certificate could be identified."""

    fail_info = FailInfo.BAD_CERT_ID
