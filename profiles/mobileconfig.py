"""Apple configuration profiles (.mobileconfig) as plist dictionaries, per Apple's schemas.

``build_enrollment_profile`` makes the MDM enrollment profile (root CA, SCEP identity, MDM
payload); ``build_configuration_profile`` wraps admin-defined payloads; ``serialize`` writes
the XML plist to sign (``profiles.signing``) or serve. Pure functions, no Django. Bad inputs
raise ValueError: they are configuration mistakes, not device input.
"""

from __future__ import annotations

import plistlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

SCEP_SUBJECT_NAMES = frozenset({"C", "L", "ST", "O", "OU", "CN"})
ALL_ACCESS_RIGHTS = 8191  # every MDM access right bit, 1 through 4096
MDM_TOPIC_PREFIX = "com.apple.mgmt."


class Platform(StrEnum):
    """Same values as the device row's platform choices."""

    IOS = "ios"
    MACOS = "macos"


class EnrollmentMode(StrEnum):
    """Account-driven enrollment's ``EnrollmentMode`` (iOS 15+/macOS 14+): BYOD is a User
    Enrollment (no AccessRights: its rights are fixed by Apple), ADDE a Device Enrollment."""

    BYOD = "BYOD"
    ADDE = "ADDE"


class ProfileScope(StrEnum):
    """macOS only: install for the whole system (device channel) or the user."""

    SYSTEM = "System"
    USER = "User"


@dataclass(frozen=True, kw_only=True)
class ScepSettings:
    """How the device gets its identity certificate (com.apple.security.scep)."""

    url: str
    challenge: str
    subject: Sequence[tuple[str, str]]  # (C|L|ST|O|OU|CN, value), in order
    ca_fingerprint: bytes | None = None  # digest of the CA certificate DER (SHA-1 is safest)
    name: str | None = None  # CA-IDENT, for servers with several CAs
    key_size: int = 2048
    key_usage: int = 5  # 1 signing | 4 encryption


@dataclass(frozen=True, kw_only=True)
class MdmSettings:
    """The com.apple.mdm payload."""

    server_url: str
    topic: str  # the APNs certificate's topic
    checkin_url: str | None = None  # defaults, on the device, to server_url
    access_rights: int = ALL_ACCESS_RIGHTS
    sign_message: bool = True  # devices add the Mdm-Signature header
    check_out_when_removed: bool = True
    # Account-driven enrollment: both set, or neither. The device cancels the enrollment when
    # either is missing or wrong, and a BYOD profile that carries AccessRights.
    enrollment_mode: EnrollmentMode | str | None = None
    assigned_managed_apple_id: str | None = None


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value)).upper()
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a UUID: {value!r}") from exc


def _derived_uuid(profile_uuid: str, payload_identifier: str) -> str:
    # Stable per profile UUID, so rebuilding a profile gives identical payload UUIDs.
    return str(uuid.uuid5(uuid.UUID(profile_uuid), payload_identifier)).upper()


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _https(url: str, what: str) -> str:
    """Devices insist on https; plain http is let through for loopback development servers
    (the embedded mode's default public URL), where no device could reach it anyway."""
    if isinstance(url, str) and url.startswith("http://"):
        host = urlsplit(url).netloc.rsplit("@", 1)[-1]
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host in _LOOPBACK_HOSTS:
            return url
    if not isinstance(url, str) or not url.startswith("https://") or len(url) <= 8:
        raise ValueError(f"{what} must be an https:// URL")
    return url


def build_configuration_profile(
    name: str,
    identifier: str,
    payloads: Sequence[Mapping[str, Any]],
    scope: ProfileScope | str | None = None,
    *,
    profile_uuid: str | None = None,
    organization: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """A top-level ``Configuration`` profile around ``payloads``.

    Each payload needs ``PayloadType``; missing ``PayloadVersion`` (1), ``PayloadIdentifier``
    (``identifier.PayloadType``, numbered if repeated) and ``PayloadUUID`` (derived from the
    profile UUID) are filled in. ``profile_uuid`` defaults to a random one.
    """
    if not name or not identifier:
        raise ValueError("name and identifier are required")
    profile_uuid = _uuid(profile_uuid) if profile_uuid else str(uuid.uuid4()).upper()
    content: list[dict[str, Any]] = []
    identifiers: set[str] = set()
    for payload in payloads:
        item = dict(payload)
        payload_type = item.get("PayloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise ValueError("every payload needs a PayloadType")
        payload_identifier = item.get("PayloadIdentifier") or f"{identifier}.{payload_type}"
        if "PayloadIdentifier" not in item:
            n = 2
            while payload_identifier in identifiers:
                payload_identifier = f"{identifier}.{payload_type}.{n}"
                n += 1
        if payload_identifier in identifiers:
            raise ValueError(f"duplicate PayloadIdentifier {payload_identifier}")
        identifiers.add(payload_identifier)
        item["PayloadIdentifier"] = payload_identifier
        item.setdefault("PayloadUUID", _derived_uuid(profile_uuid, payload_identifier))
        item.setdefault("PayloadVersion", 1)
        content.append(item)
    if len({item["PayloadUUID"] for item in content}) != len(content):
        raise ValueError("duplicate PayloadUUID")
    profile: dict[str, Any] = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": profile_uuid,
        "PayloadDisplayName": name,
        "PayloadContent": content,
    }
    if organization:
        profile["PayloadOrganization"] = organization
    if description:
        profile["PayloadDescription"] = description
    if scope is not None:
        profile["PayloadScope"] = ProfileScope(scope).value
    return profile


def scep_payload(scep: ScepSettings, *, display_name: str = "Device identity") -> dict[str, Any]:
    """A ``com.apple.security.scep`` payload (identifier and UUID are filled in later)."""
    if not scep.subject:
        raise ValueError("the SCEP subject needs at least one attribute")
    for attribute, value in scep.subject:
        if attribute not in SCEP_SUBJECT_NAMES:
            raise ValueError(f"SCEP subject attribute {attribute!r} not in {SCEP_SUBJECT_NAMES}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"SCEP subject {attribute} needs a value")
    if scep.key_size not in (1024, 2048, 4096):
        raise ValueError("key_size must be 1024, 2048 or 4096")
    if scep.key_usage not in (1, 4, 5):
        raise ValueError("key_usage must be 1 (signing), 4 (encryption) or 5 (both)")
    if not scep.url.startswith(("https://", "http://")):  # SCEP may run over plain HTTP
        raise ValueError("SCEP url must be http(s)")
    content: dict[str, Any] = {
        "URL": scep.url,
        "Subject": [[[attribute, value]] for attribute, value in scep.subject],
        "Keysize": scep.key_size,
        "Key Type": "RSA",
        "Key Usage": scep.key_usage,
    }
    if scep.challenge:
        content["Challenge"] = scep.challenge
    if scep.name:
        content["Name"] = scep.name
    if scep.ca_fingerprint:
        content["CAFingerprint"] = bytes(scep.ca_fingerprint)
    return {"PayloadType": "com.apple.security.scep", "PayloadDisplayName": display_name,
            "PayloadContent": content}


def root_certificate_payload(der: bytes, *, display_name: str = "Root certificate",
                             file_name: str = "root.cer") -> dict[str, Any]:
    """A ``com.apple.security.root`` payload trusting the CA certificate ``der``."""
    if not der:
        raise ValueError("the root certificate is empty")
    return {"PayloadType": "com.apple.security.root", "PayloadDisplayName": display_name,
            "PayloadCertificateFileName": file_name, "PayloadContent": bytes(der)}


def intermediate_certificate_payload(der: bytes, *, display_name: str = "Intermediate CA",
                                     file_name: str = "intermediate.cer") -> dict[str, Any]:
    """A ``com.apple.security.pkcs1`` payload: a certificate installed, not trusted as a root
    (an intermediate CA between the root and the certificates a device is given)."""
    if not der:
        raise ValueError("the certificate is empty")
    return {"PayloadType": "com.apple.security.pkcs1", "PayloadDisplayName": display_name,
            "PayloadCertificateFileName": file_name, "PayloadContent": bytes(der)}


def _mdm_payload(mdm: MdmSettings, identity_uuid: str, platform: Platform) -> dict[str, Any]:
    if not mdm.topic.startswith(MDM_TOPIC_PREFIX) or mdm.topic == MDM_TOPIC_PREFIX:
        raise ValueError(f"the push topic must start with {MDM_TOPIC_PREFIX}")
    rights = mdm.access_rights
    if not 0 < rights <= ALL_ACCESS_RIGHTS or (rights & 2 and not rights & 1) or (
            rights & 128 and not rights & 64):
        raise ValueError("invalid AccessRights (non-zero, 2 needs 1, 128 needs 64)")
    payload: dict[str, Any] = {
        "PayloadType": "com.apple.mdm",
        "PayloadDisplayName": "Device management",
        "IdentityCertificateUUID": identity_uuid,
        "Topic": mdm.topic,
        "ServerURL": _https(mdm.server_url, "server_url"),
        "SignMessage": mdm.sign_message,
        "CheckOutWhenRemoved": mdm.check_out_when_removed,
        "AccessRights": rights,
    }
    if mdm.enrollment_mode is not None or mdm.assigned_managed_apple_id is not None:
        mode = EnrollmentMode(mdm.enrollment_mode)
        apple_id = mdm.assigned_managed_apple_id
        if not isinstance(apple_id, str) or "@" not in apple_id.strip("@"):
            raise ValueError("account-driven enrollment needs the user's AssignedManagedAppleID")
        payload["EnrollmentMode"] = mode.value
        payload["AssignedManagedAppleID"] = apple_id
        if mode is EnrollmentMode.BYOD:
            del payload["AccessRights"]
    if mdm.checkin_url:
        payload["CheckInURL"] = _https(mdm.checkin_url, "checkin_url")
    if platform is Platform.MACOS:
        # User channels (macOS user check-ins) and Bootstrap Token escrow.
        payload["ServerCapabilities"] = [
            "com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken",
        ]
    return payload


def build_enrollment_profile(
    *,
    organization: str,
    identifier: str,
    profile_uuid: str,
    scep: ScepSettings,
    mdm: MdmSettings,
    root_ca_der: bytes | None = None,
    intermediate_ca_ders: Sequence[bytes] = (),
    platform: Platform | str = Platform.IOS,
    display_name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The MDM enrollment profile: [root CA, intermediate CAs], SCEP identity, then the MDM
    payload."""
    platform = Platform(platform)
    profile_uuid = _uuid(profile_uuid)
    scep_identifier = f"{identifier}.scep"
    scep_uuid = _derived_uuid(profile_uuid, scep_identifier)
    payloads: list[dict[str, Any]] = []
    if root_ca_der:
        payloads.append({**root_certificate_payload(root_ca_der),
                         "PayloadIdentifier": f"{identifier}.root"})
    for index, der in enumerate(intermediate_ca_ders, start=1):
        payloads.append({**intermediate_certificate_payload(der),
                         "PayloadIdentifier": f"{identifier}.intermediate{index}"})
    payloads.append({**scep_payload(scep), "PayloadIdentifier": scep_identifier,
                     "PayloadUUID": scep_uuid})
    payloads.append({**_mdm_payload(mdm, scep_uuid, platform),
                     "PayloadIdentifier": f"{identifier}.mdm"})
    for payload in payloads:
        payload["PayloadOrganization"] = organization
    return build_configuration_profile(
        display_name or f"{organization} device management",
        identifier,
        payloads,
        ProfileScope.SYSTEM if platform is Platform.MACOS else None,
        profile_uuid=profile_uuid,
        organization=organization,
        description=description or f"Lets {organization} manage this device.",
    )


def serialize(profile: Mapping[str, Any]) -> bytes:
    """The profile as an XML plist (what gets signed and served as .mobileconfig)."""
    return plistlib.dumps(dict(profile), fmt=plistlib.FMT_XML, sort_keys=True)
