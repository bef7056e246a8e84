"""The enrollment profile of one registration: tenant CA as root, SCEP payload with the
registration's one-time challenge, MDM payload; signed by the tenant's profile-signing
certificate unless the tenant turned signing off (tooling)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings as django_settings

from enrollment.apple.links import checkin_url, server_url
from enrollment.links import scep_url
from enrollment.models import Registration
from enrollment.services.apple_settings import apple_settings
from enrollment.services.authorities import active_authority
from enrollment.services.profile_signing import SigningIdentity, signing_identity
from pki.authority import fit_name_component
from profiles import mobileconfig
from profiles.signing import sign_profile

CONTENT_TYPE = "application/x-apple-aspen-config"


class ProfileNotConfigured(Exception):
    """The tenant cannot serve enrollment profiles yet: ``reason`` is no_push_topic or no_ca."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_ready(tenant) -> None:
    """Raise ProfileNotConfigured before a download token is spent on a profile we cannot
    build."""
    if not apple_settings(tenant).push_topic:
        raise ProfileNotConfigured("no_push_topic")
    if active_authority(tenant) is None:
        raise ProfileNotConfigured("no_ca")


def profile_identifier(tenant) -> str:
    """Stable per tenant, so a fresh enrollment profile replaces the installed one."""
    host = urlsplit(django_settings.MDM_PUBLIC_URL).hostname or "localhost"
    reverse_dns = ".".join(reversed(host.split(".")))
    return f"{reverse_dns}.{tenant.slug}.enrollment"


def scep_subject(tenant, registration: Registration) -> list[tuple[str, str]]:
    return _subject(tenant, f" registration {registration.pk}")


def renewal_subject(tenant, device_pk: int) -> list[tuple[str, str]]:
    """A renewal's SCEP subject names the device whose identity it renews."""
    return _subject(tenant, f" device {device_pk}")


def _subject(tenant, suffix: str) -> list[tuple[str, str]]:
    # The CN stays within the 64 characters the SCEP policy allows: a long slug is shortened,
    # the id never.
    return [("O", fit_name_component(tenant.name)),
            ("CN", f"{tenant.slug[:64 - len(suffix)]}{suffix}")]


@dataclass(frozen=True)
class AccountProfile:
    """What an account-driven enrollment adds to the MDM payload: Apple's ``EnrollmentMode``
    (BYOD or ADDE) and the signed-in user's ``AssignedManagedAppleID``."""

    enrollment_mode: mobileconfig.EnrollmentMode
    managed_apple_id: str


@dataclass(frozen=True)
class ProfileFrame:
    """What every enrollment profile of a tenant shares, read once: a batch of profiles (the
    renewal scan) costs no query per profile."""

    tenant: object
    topic: str
    signed: bool
    ca_der: bytes
    root_der: bytes | None
    intermediate_ders: tuple[bytes, ...]

    def build(self, platform: str, subject: list[tuple[str, str]], challenge: str, *,
              account: AccountProfile | None = None) -> dict:
        tenant = self.tenant
        return mobileconfig.build_enrollment_profile(
            organization=tenant.name,
            identifier=profile_identifier(tenant),
            profile_uuid=str(uuid.uuid4()),
            scep=mobileconfig.ScepSettings(
                url=scep_url(tenant), challenge=challenge, subject=subject,
                ca_fingerprint=hashlib.sha1(self.ca_der).digest(),  # noqa: S324 - Apple's
            ),
            mdm=mobileconfig.MdmSettings(
                server_url=server_url(tenant), checkin_url=checkin_url(tenant), topic=self.topic,
                enrollment_mode=account.enrollment_mode if account else None,
                assigned_managed_apple_id=account.managed_apple_id if account else None),
            root_ca_der=self.root_der,
            intermediate_ca_ders=list(self.intermediate_ders),
            platform=platform,
        )

    def render(self, platform: str, subject: list[tuple[str, str]], challenge: str, *,
               account: AccountProfile | None = None) -> bytes:
        """The .mobileconfig bytes: CMS SignedData (DER), or the plain XML plist."""
        data = mobileconfig.serialize(self.build(platform, subject, challenge, account=account))
        if not self.signed:
            return data
        identity = self.signing_identity
        return sign_profile(data, identity.certificate, identity.key, identity.chain)

    @cached_property
    def signing_identity(self) -> SigningIdentity:
        return signing_identity(self.tenant)


def profile_frame(tenant) -> ProfileFrame:
    settings = apple_settings(tenant)
    authority = active_authority(tenant)
    if not settings.push_topic:
        raise ProfileNotConfigured("no_push_topic")
    if authority is None:
        raise ProfileNotConfigured("no_ca")
    ca_der = bytes(authority.certificate_der)
    # A self-signed top of the chain is the root the profile trusts; what lies between it and
    # the CA is installed alongside. A chain imported without its root is installed whole:
    # the device must already trust that root (only a root belongs in a root payload).
    chain = authority.chain_certificates()
    top = chain[-1] if chain else x509.load_der_x509_certificate(ca_der)
    path = [ca_der, *(cert.public_bytes(Encoding.DER) for cert in chain)]
    root, intermediates = (path[-1], path[:-1]) if top.issuer == top.subject else (None, path)
    return ProfileFrame(tenant, settings.push_topic, settings.sign_enrollment_profiles,
                        ca_der, root, tuple(intermediates))


def build_registration_profile(tenant, registration: Registration, challenge: str) -> dict:
    return profile_frame(tenant).build(registration.platform,
                                       scep_subject(tenant, registration), challenge)


def render_registration_profile(tenant, registration: Registration, challenge: str, *,
                                account: AccountProfile | None = None) -> bytes:
    """The .mobileconfig bytes to serve: CMS SignedData (DER), or the plain XML plist."""
    return profile_frame(tenant).render(registration.platform,
                                        scep_subject(tenant, registration), challenge,
                                        account=account)
