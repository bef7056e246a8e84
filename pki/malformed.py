"""What reading untrusted DER can raise: our DER reader, cryptography (certificates, CSRs,
keys, their extensions) and asn1crypto. One tuple, so that every reader of device or admin
input turns all of it into its own clear error instead of a 500.

cryptography's x509 errors (a repeated extension, an unknown general name type, an unknown
version) are not ValueErrors, and extensions are parsed lazily: the first ``.extensions``
read is where a malformed one surfaces.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidKey, InvalidSignature, UnsupportedAlgorithm
from cryptography.x509 import (
    AttributeNotFound,
    DuplicateExtension,
    InvalidVersion,
    UnsupportedGeneralNameType,
)

DECODE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,  # der.DerError and most of cryptography's parse errors
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    UnicodeError,
    RecursionError,
    NotImplementedError,
    InvalidSignature,
    InvalidKey,
    UnsupportedAlgorithm,
    InvalidVersion,
    DuplicateExtension,
    UnsupportedGeneralNameType,
    AttributeNotFound,
)
