"""SCEP attribute OIDs and enumerations (RFC 8894 section 3.2.1).

Importing this module registers the SCEP signed attributes with asn1crypto, so that
``cms.CMSAttribute`` parses and builds them by name (``scep_message_type`` and so on).
"""

from __future__ import annotations

from enum import IntEnum

from asn1crypto import cms, core

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


class ScepString(core.Choice):
    """The string types seen in the wild for SCEP's PrintableString attributes."""

    _alternatives = [
        ("printable_string", core.PrintableString),
        ("utf8_string", core.UTF8String),
        ("ia5_string", core.IA5String),
        ("teletex_string", core.TeletexString),
        ("bmp_string", core.BMPString),
    ]


class SetOfScepString(core.SetOf):
    _child_spec = ScepString


_NAMES = {
    MESSAGE_TYPE: "scep_message_type",
    PKI_STATUS: "scep_pki_status",
    FAIL_INFO: "scep_fail_info",
    SENDER_NONCE: "scep_sender_nonce",
    RECIPIENT_NONCE: "scep_recipient_nonce",
    TRANSACTION_ID: "scep_transaction_id",
}
_SPECS = {
    "scep_message_type": SetOfScepString,
    "scep_pki_status": SetOfScepString,
    "scep_fail_info": SetOfScepString,
    "scep_sender_nonce": cms.SetOfOctetString,
    "scep_recipient_nonce": cms.SetOfOctetString,
    "scep_transaction_id": SetOfScepString,
}


def _register() -> None:
    cms.CMSAttributeType._map.update(_NAMES)
    # asn1crypto caches the reverse map on first use; drop it so the new names resolve.
    cms.CMSAttributeType._reverse_map = None
    cms.CMSAttribute._oid_specs.update(_SPECS)


_register()
