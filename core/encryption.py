"""Encryption at rest for private keys and credentials (AES-256-GCM, key from MDM_ENCRYPTION_KEY).

The `purpose` string is bound as associated data, so a ciphertext copied into another column
(say, a CA key into an LDAP password) fails to decrypt instead of being misused.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_VERSION = b"\x01"


class DecryptionError(Exception):
    """The ciphertext is corrupt, for another purpose, or made with another key."""


def encrypt(plaintext: bytes, purpose: str) -> bytes:
    nonce = os.urandom(12)
    sealed = AESGCM(settings.MDM_ENCRYPTION_KEY).encrypt(nonce, plaintext, purpose.encode())
    return _VERSION + nonce + sealed


def decrypt(ciphertext: bytes, purpose: str) -> bytes:
    data = bytes(ciphertext)
    if len(data) < 29 or data[:1] != _VERSION:
        raise DecryptionError("unknown ciphertext format")
    try:
        return AESGCM(settings.MDM_ENCRYPTION_KEY).decrypt(data[1:13], data[13:], purpose.encode())
    except InvalidTag:
        raise DecryptionError("ciphertext does not authenticate") from None
