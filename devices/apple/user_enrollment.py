"""What Apple allows on a device enrolled by User Enrollment (account-driven BYOD).

The request types below are those whose command schema (Apple's device-management
repository, mdm/commands/*.yaml, ``supportedOS.<os>.userenrollment.mode``) is not
``forbidden`` on every OS: erasing, locating, restarting, restricting or updating a personal
device is not the organization's to do. Pure data: no Django.
"""

from __future__ import annotations

USER_ENROLLMENT_COMMANDS = frozenset({
    "CertificateList", "DeclarativeManagement", "DeviceInformation", "DeviceLock",
    "InstallApplication", "InstallEnterpriseApplication", "InstallMedia", "InstallProfile",
    "InstallProvisioningProfile", "InstalledApplicationList", "ManagedApplicationAttributes",
    "ManagedApplicationConfiguration", "ManagedApplicationFeedback", "ManagedApplicationList",
    "ManagedMediaList", "ProfileList", "ProvisioningProfileList", "RemoveApplication",
    "RemoveMedia", "RemoveProfile", "RemoveProvisioningProfile", "RequestMirroring",
    "SecurityInfo", "Settings", "ValidateApplications",
})


def refusal(request_type: str) -> str | None:
    """Why ``request_type`` cannot go to a User Enrollment device; None when it can."""
    if request_type in USER_ENROLLMENT_COMMANDS:
        return None
    return (f"{request_type} is not allowed on a personal device enrolled by User Enrollment: "
            "Apple keeps it for devices the organization owns.")
