"""Models of the profiles app, one module per concept."""

from .configuration import ConfigurationProfile, ProfileTarget
from .signing import ProfileSigningCertificate

__all__ = ["ConfigurationProfile", "ProfileSigningCertificate", "ProfileTarget"]
