"""SCEP over HTTP, the pure part: decoding the GET ``message`` parameter (RFC 8894 4.1).

Clients base64-encode the pkiMessage for GET; in the wild the value arrives in standard or
URL-safe alphabet, without padding, wrapped on several lines, still percent-encoded, or
with its ``+`` turned into a space by query decoding. No Django here: the view passes a str.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote

from enrollment.scep.errors import UnparseableMessage

PKI_MESSAGE_CONTENT_TYPE = "application/x-pki-message"
MAX_MESSAGE_BYTES = 256 * 1024  # a PKCSReq is a few kB; anything this large is refused
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def decode_message_param(value: str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """The DER pkiMessage carried by a PKIOperation GET ``message`` parameter."""
    if len(value) > max_bytes * 4:  # base64 is 4/3 of it, percent-encoding up to 3x that
        raise UnparseableMessage("message parameter too long")
    # The view hands the raw query value, so a client's own escaping is one level; one that
    # escaped twice needs a second. Base64 never holds "%", so unquoting it is harmless.
    for _level in range(2):
        if "%" in value:
            value = unquote(value)
    # Spaces are kept: each one is a "+" that lost its escaping.
    text = re.sub(r"[\r\n\t]", "", value).rstrip("=")
    text = text.replace(" ", "+").replace("-", "+").replace("_", "/")
    if not text or len(text) % 4 == 1 or not _BASE64.fullmatch(text):
        raise UnparseableMessage("message parameter is not base64")
    try:
        der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnparseableMessage("message parameter is not base64") from exc
    if len(der) > max_bytes:
        raise UnparseableMessage("message too large")
    return der
