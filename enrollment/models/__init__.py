"""Models of the enrollment app, one module per concept."""

from .certificates import IssuedCertificate, RevocationReason
from .challenges import Challenge
from .pki import CertificateAuthority
from .registrations import (
    OPEN_STATES,
    Registration,
    RegistrationMethod,
    RegistrationState,
)

__all__ = [
    "OPEN_STATES",
    "CertificateAuthority",
    "Challenge",
    "IssuedCertificate",
    "Registration",
    "RegistrationMethod",
    "RegistrationState",
    "RevocationReason",
]
