"""Models of the enrollment app, one module per concept."""

from enrollment.models.app import AppQrToken, AppSession
from enrollment.models.apple_settings import AppleMdmSettings
from enrollment.models.certificates import IssuedCertificate, RevocationReason
from enrollment.models.challenges import Challenge
from enrollment.models.pki import CertificateAuthority
from enrollment.models.registrations import (
    OPEN_STATES,
    Registration,
    RegistrationMethod,
    RegistrationState,
)
from enrollment.models.renewal_policy import IdentityRenewalPolicy

__all__ = [
    "OPEN_STATES",
    "AppQrToken",
    "AppSession",
    "AppleMdmSettings",
    "CertificateAuthority",
    "Challenge",
    "IdentityRenewalPolicy",
    "IssuedCertificate",
    "Registration",
    "RegistrationMethod",
    "RegistrationState",
    "RevocationReason",
]

# invitations, one-time PINs, registration URLs, registration policy
from enrollment.models.invitations import (
    LIVE_INVITATION_STATES,
    Invitation,
    InvitationChannel,
    InvitationStatus,
)
from enrollment.models.links import CURRENT_LINK_FORMAT, RegistrationLink
from enrollment.models.pins import RegistrationPin
from enrollment.models.policies import PinRequirement, RegistrationPolicy

__all__ += [
    "CURRENT_LINK_FORMAT", "LIVE_INVITATION_STATES", "Invitation", "InvitationChannel",
    "InvitationStatus", "PinRequirement", "RegistrationLink", "RegistrationPin",
    "RegistrationPolicy",
]

# Android Enterprise (AMAPI)
from enrollment.models.android import AndroidEnrollmentToken, AndroidEnterprise, AndroidOwnership  # noqa: E402

__all__ += ["AndroidEnrollmentToken", "AndroidEnterprise", "AndroidOwnership"]

# registration reminders (workers)
from enrollment.models.reminders import Reminder, ReminderPolicy, ReminderStatus  # noqa: E402

__all__ += ["Reminder", "ReminderPolicy", "ReminderStatus"]

# Apple account-driven enrollment (managed domains, access tokens)
from enrollment.models.account import (  # noqa: E402
    AccountEnrollmentMode,
    AccountEnrollmentToken,
    ManagedDomain,
)

__all__ += ["AccountEnrollmentMode", "AccountEnrollmentToken", "ManagedDomain"]
