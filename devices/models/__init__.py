"""Models of the devices app, one module per concept."""

from devices.models.android import (
    AndroidDevice,
    AndroidOperation,
    AndroidOperationStatus,
    EndedAndroidDeviceName,
    ProcessedPubSubMessage,
)
from devices.models.apple import AppleChannel
from devices.models.commands import Command, CommandStatus
from devices.models.devices import Device, DeviceState, Platform
from devices.models.push import (
    ApnsCertificate,
    ApnsCertificateRequest,
    AppPushCredentials,
    InvalidPushToken,
    MdmVendorCertificate,
    PushAttempt,
    PushKind,
    PushResult,
)
from devices.models.renewals import IdentityRenewal, RenewalReason, RenewalState

__all__ = [
    "AndroidDevice", "AndroidOperation", "AndroidOperationStatus", "ApnsCertificate",
    "ApnsCertificateRequest", "AppPushCredentials", "AppleChannel", "Command", "CommandStatus",
    "Device", "DeviceState", "EndedAndroidDeviceName", "IdentityRenewal", "InvalidPushToken",
    "MdmVendorCertificate", "Platform", "ProcessedPubSubMessage", "PushAttempt", "PushKind",
    "PushResult", "RenewalReason", "RenewalState",
]
