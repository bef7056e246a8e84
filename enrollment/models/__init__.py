"""Models of the enrollment app, one module per concept."""

from .app import AppQrToken, AppSession
from .certificates import IssuedCertificate, RevocationReason
from .challenges import Challenge
from .pki import CertificateAuthority
from .registrations import (
    OPEN_STATES,
    Registration,
    RegistrationMethod,
    RegistrationState,
)

__all__ = [
    "OPEN_STATES",
    "AppQrToken",
    "AppSession",
    "CertificateAuthority",
    "Challenge",
    "IssuedCertificate",
    "Registration",
    "RegistrationMethod",
    "RegistrationState",
    "RevocationReason",
]

# invitations, one-time PINs, registration URLs, registration policy
from .invitations import (
    LIVE_INVITATION_STATES,
    Invitation,
    InvitationChannel,
    InvitationStatus,
)
from .links import CURRENT_LINK_FORMAT, RegistrationLink
from .pins import RegistrationPin
from .policies import PinRequirement, RegistrationPolicy

__all__ += [
    "CURRENT_LINK_FORMAT", "LIVE_INVITATION_STATES", "Invitation", "InvitationChannel",
    "InvitationStatus", "PinRequirement", "RegistrationLink", "RegistrationPin",
    "RegistrationPolicy",
]

# Android Enterprise (AMAPI)
from .android import AndroidEnrollmentToken, AndroidEnterprise, AndroidOwnership  # noqa: E402

__all__ += ["AndroidEnrollmentToken", "AndroidEnterprise", "AndroidOwnership"]

# registration reminders (workers)
from .reminders import Reminder, ReminderPolicy, ReminderStatus  # noqa: E402

__all__ += ["Reminder", "ReminderPolicy", "ReminderStatus"]
