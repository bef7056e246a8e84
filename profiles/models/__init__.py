"""Models of the profiles app, one module per concept."""

from profiles.models.configuration import ConfigurationProfile, ProfileTarget
from profiles.models.signing import ProfileSigningCertificate

__all__ = ["ConfigurationProfile", "ProfileSigningCertificate", "ProfileTarget"]
