"""Models of the devices app, one module per concept."""

from .apple import AppleChannel, AppleMdmSettings
from .commands import Command, CommandStatus
from .devices import Device, DeviceState, Platform

__all__ = [
    "AppleChannel",
    "AppleMdmSettings",
    "Command",
    "CommandStatus",
    "Device",
    "DeviceState",
    "Platform",
]

# Android (AMAPI)
from .android import (
    AndroidDevice,
    AndroidOperation,
    AndroidOperationStatus,
    EndedAndroidDeviceName,
    ProcessedPubSubMessage,
)

__all__ += ["AndroidDevice", "AndroidOperation", "AndroidOperationStatus",
            "EndedAndroidDeviceName", "ProcessedPubSubMessage"]

# pushes (APNs MDM certificate, app push credentials, attempts)
from .push import (  # noqa: E402
    ApnsCertificate,
    AppPushCredentials,
    InvalidPushToken,
    PushAttempt,
    PushKind,
    PushResult,
)

__all__ += ["ApnsCertificate", "AppPushCredentials", "InvalidPushToken", "PushAttempt",
            "PushKind", "PushResult"]
