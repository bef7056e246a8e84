"""Reading served enrollment profiles: the plist, and one payload of it. (The signature check,
`openssl_verify`, is a fixture: see conftest.py.)"""

from __future__ import annotations

import plistlib


def payload(profile: dict, payload_type: str) -> dict:
    (found,) = [p for p in profile["PayloadContent"] if p["PayloadType"] == payload_type]
    return found


def loads(data: bytes) -> dict:
    return plistlib.loads(data)
