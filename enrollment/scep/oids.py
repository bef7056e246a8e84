"""SCEP attribute OIDs and enumerations (RFC 8894 section 3.2.1)."""

from __future__ import annotations

from enum import IntEnum

MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
PKI_STATUS = "2.16.840.1.113733.1.9.3"
FAIL_INFO = "2.16.840.1.113733.1.9.4"
SENDER_NONCE = "2.16.840.1.113733.1.9.5"
RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"


class MessageType(IntEnum):
    CERT_REP = 3
    RENEWAL_REQ = 17
    PKCS_REQ = 19
    CERT_POLL = 20  # GetCertInitial in older drafts
    GET_CERT = 21
    GET_CRL = 22


class PKIStatus(IntEnum):
    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


class FailInfo(IntEnum):
    BAD_ALG = 0
    BAD_MESSAGE_CHECK = 1
    BAD_REQUEST = 2
    BAD_TIME = 3
    BAD_CERT_ID = 4
