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
