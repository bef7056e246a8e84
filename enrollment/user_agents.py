"""What kind of device a browser runs on, from its User-Agent (pure).

iPadOS 13+ Safari asks for desktop sites and says "Macintosh"; it is told apart from a Mac
only by touch support, which a server cannot see, so such an iPad is offered both choices.
"""

from __future__ import annotations

import re

_ANDROID_VERSION = re.compile(r"Android (\d+)")
_IOS_VERSION = re.compile(r"(?:iPhone|CPU) OS (\d+)[_.]")


def device_kind(user_agent: str) -> str:
    """"ios", "android", "macos" or "desktop"."""
    ua = user_agent or ""
    if "iPhone" in ua or "iPad" in ua or "iPod" in ua:
        return "ios"
    if "Android" in ua:
        return "android"
    if "Macintosh" in ua or "Mac OS X" in ua:
        return "macos"
    return "desktop"


def is_phone(user_agent: str) -> bool:
    return device_kind(user_agent) in ("ios", "android")


def os_major_version(user_agent: str) -> int | None:
    ua = user_agent or ""
    match = _IOS_VERSION.search(ua) or _ANDROID_VERSION.search(ua)
    return int(match.group(1)) if match else None
