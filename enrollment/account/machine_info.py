"""The body of an account-driven enrollment request: a CMS-signed plist the device sends
twice (without, then with, its access token), naming its product, OS build and language.

Pure: no Django. Every problem is a ``MalformedMachineInfo`` whose ``reason`` goes to the
audit trail; the view answers 400.
"""

from __future__ import annotations

import plistlib
import xml.parsers.expat
from dataclasses import dataclass

from pki.signed_content import SignedContentError, open_signed

MAX_BODY_BYTES = 64 * 1024  # the plist is a few hundred bytes; the signature a few kB


class MalformedMachineInfo(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MachineInfo:
    product: str  # "iPhone10,2", "iPad13,1", "Mac14,2"
    version: str  # OS build, "19A240"
    language: str
    serial_number: str = ""
    udid: str = ""

    @property
    def platform(self) -> str | None:
        """ios or macos (our Platform values); None for a product we do not enroll."""
        if self.product.startswith(("iPhone", "iPad", "iPod")):
            return "ios"
        if "Mac" in self.product:  # Mac14,2, MacBookPro18,3, iMac21,1, Macmini9,1
            return "macos"
        return None


def parse_machine_info(body: bytes) -> MachineInfo:
    if not body:
        raise MalformedMachineInfo("empty body")
    if len(body) > MAX_BODY_BYTES:
        raise MalformedMachineInfo("body too large")
    try:
        content = open_signed(body).content
    except SignedContentError as exc:
        raise MalformedMachineInfo(f"unsigned or badly signed: {exc}") from None
    try:
        info = plistlib.loads(content)
    except (plistlib.InvalidFileException, xml.parsers.expat.ExpatError, ValueError,
            TypeError, OverflowError, IndexError) as exc:
        raise MalformedMachineInfo(f"not a plist: {exc}") from None
    if not isinstance(info, dict):
        raise MalformedMachineInfo("the plist is not a dictionary")
    values = {key: info.get(key, "") for key in ("PRODUCT", "VERSION", "LANGUAGE", "SERIAL",
                                                 "UDID")}
    if not all(isinstance(value, str) for value in values.values()):
        raise MalformedMachineInfo("a machine-info value is not a string")
    if not values["PRODUCT"]:
        raise MalformedMachineInfo("no PRODUCT")
    return MachineInfo(product=values["PRODUCT"][:64], version=values["VERSION"][:32],
                       language=values["LANGUAGE"][:32], serial_number=values["SERIAL"][:64],
                       udid=values["UDID"][:64])
