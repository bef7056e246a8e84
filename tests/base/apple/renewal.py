"""Test helpers for identity renewal: send a device its re-enrollment profile, read the
profile back out of the InstallProfile command, and get its identity issued by the real SCEP
service (no HTTP), as the device would."""

from __future__ import annotations

import plistlib

from cryptography import x509
from cryptography.x509.oid import NameOID

from devices.models import Command, IdentityRenewal
from devices.services.renewals import do_queue_renewals
from devices.simulator.enroll_apple import profile_contents
from enrollment.scep.service import handle_pki_operation
from enrollment.services.authorities import active_authority, key_pair, ra_key_pair
from tests.base.scep.client import build_request, decode_cert_rep, make_csr, make_signer

NAME_OIDS = {"O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}


def queue_renewal(tenant, device_pk: int, *, reason: str = "expiring") -> IdentityRenewal:
    batch = do_queue_renewals(tenant, [device_pk], reason=reason, actor="test")
    assert not batch.skipped, batch.skipped
    return batch.queued[0]


def renewal_profile(renewal: IdentityRenewal) -> dict:
    """The enrollment profile the renewal's InstallProfile carries."""
    command = Command.objects.get(pk=renewal.command_id)
    payload = plistlib.loads(bytes(command.command_plist))["Command"]["Payload"]
    return profile_contents(payload)


def scep_payload(profile: dict) -> dict:
    return next(p for p in profile["PayloadContent"]
                if p["PayloadType"] == "com.apple.security.scep")["PayloadContent"]


def request_identity(tenant, scep: dict, key, *, subject: x509.Name | None = None,
                     challenge: str | None = None):
    """The CertRep for a PKCSReq built from the profile's SCEP payload (subject and challenge
    overridable, as a hostile device would)."""
    if subject is None:
        subject = x509.Name([x509.NameAttribute(NAME_OIDS[name], value)
                             for [[name, value]] in scep["Subject"]])
    authority = active_authority(tenant)
    ca, ra = key_pair(authority).certificate, ra_key_pair(authority).certificate
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    csr = make_csr(key, common_name, challenge or scep["Challenge"], subject=subject)
    request = build_request(csr, make_signer(key=key), ra)
    reply = handle_pki_operation(tenant, authority, request.der)
    return decode_cert_rep(reply.body, request, ca, ra_cert=ra)


def renewed_identity(tenant, renewal: IdentityRenewal, key) -> x509.Certificate:
    result = request_identity(tenant, scep_payload(renewal_profile(renewal)), key)
    assert result.fail_info is None, result
    return result.certificate
