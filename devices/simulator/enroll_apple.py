"""One simulated iPhone/iPad/Mac going through enrollment over HTTP, step by step, timed:
download the enrollment profile, enroll over SCEP with the profile's URL and challenge,
Authenticate, TokenUpdate (and the user channel on macOS), then answer commands until the
queue is empty. An ``InstallProfile`` carrying an enrollment profile renews the identity as
a device does: SCEP with a new key and the profile's challenge, then Authenticate and
TokenUpdate signed by the new identity, then the command's result."""

from __future__ import annotations

import plistlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from asn1crypto import cms
from cryptography import x509
from cryptography.x509.oid import NameOID

from devices.simulator.apple import SimulatedDevice, parse_command
from enrollment.scep.client import (
    build_request,
    decode_cert_rep,
    make_csr,
    make_signer,
    new_key,
    read_ca_certificates,
)
from enrollment.scep.oids import PKIStatus

NAME_OIDS = {"C": NameOID.COUNTRY_NAME, "L": NameOID.LOCALITY_NAME,
             "ST": NameOID.STATE_OR_PROVINCE_NAME, "O": NameOID.ORGANIZATION_NAME,
             "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME}
MAX_COMMANDS = 20


class SimulationError(Exception):
    """A step failed; the message says which and why."""


@dataclass
class AppleRun:
    udid: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds
    commands: list[str] = field(default_factory=list)
    device: SimulatedDevice | None = None  # the enrolled device, to go on living with
    renewals: int = 0  # identities renewed through a re-enrollment profile


def profile_contents(data: bytes) -> dict:
    """The plist inside a signed (CMS SignedData) or unsigned .mobileconfig."""
    if data.lstrip()[:5] in (b"<?xml", b"bplis"):
        return plistlib.loads(data)
    signed = cms.ContentInfo.load(data)["content"]
    return plistlib.loads(signed["encap_content_info"]["content"].native)


def _is_enrollment(command: dict) -> bool:
    try:
        profile = profile_contents(command["Command"]["Payload"])
    except (KeyError, ValueError, TypeError):
        return False
    return any(p.get("PayloadType") == "com.apple.mdm" for p in profile.get("PayloadContent", []))


def _payload(profile: dict, payload_type: str) -> dict:
    for payload in profile.get("PayloadContent", []):
        if payload.get("PayloadType") == payload_type:
            return payload
    raise SimulationError(f"the profile has no {payload_type} payload")


class AppleEnrollment:
    """Rewrites the server's public URLs to `server` so a simulator can reach a server whose
    MDM_PUBLIC_URL is not routable from here."""

    def __init__(self, http: httpx.Client, public_url: str, server: str, *,
                 renewal_key: Callable[[SimulatedDevice], object] | None = None):
        self.http, self.public_url, self.server = http, public_url.rstrip("/"), server.rstrip("/")
        # A renewal's new key (a device makes a new one for each SCEP payload).
        self.renewal_key = renewal_key or (lambda device: new_key())

    def _url(self, url: str) -> str:
        return self.server + url[len(self.public_url):] if url.startswith(self.public_url) \
            else url

    def _transport(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        response = self.http.put(self.server + path, content=body, headers={
            "Content-Type": "application/x-apple-aspen-mdm-checkin", **headers})
        return response.status_code, response.content

    def _timed(self, run: AppleRun, step: str, started: float) -> None:
        run.timings[step] = time.perf_counter() - started

    def enroll(self, tenant_slug: str, profile_url: str, key, *, platform: str,
               user_short_name: str) -> AppleRun:
        run = AppleRun()
        started = time.perf_counter()
        response = self.http.get(self._url(profile_url))
        if response.status_code != 200:
            raise SimulationError(f"profile download: HTTP {response.status_code}")
        self._install(run, started, tenant_slug, response.content, key, platform=platform,
                      user_short_name=user_short_name)
        return run

    def install(self, tenant_slug: str, profile_data: bytes, key, *, platform: str,
                user_short_name: str) -> AppleRun:
        """Enroll with a profile downloaded elsewhere (e.g. by a browser in a test), as a
        device does once the user installs it."""
        run = AppleRun()
        self._install(run, time.perf_counter(), tenant_slug, profile_data, key,
                      platform=platform, user_short_name=user_short_name)
        return run

    def _install(self, run: AppleRun, started: float, tenant_slug: str, profile_data: bytes,
                 key, *, platform: str, user_short_name: str) -> None:
        profile = profile_contents(profile_data)
        scep = _payload(profile, "com.apple.security.scep")["PayloadContent"]
        mdm = _payload(profile, "com.apple.mdm")
        self._timed(run, "profile", started)

        started = time.perf_counter()
        cert = self._scep(scep, key)
        self._timed(run, "scep", started)

        device = SimulatedDevice(tenant_slug, self._transport, key, cert, topic=mdm["Topic"],
                                 product_name="MacBookPro18,3" if platform == "macos"
                                 else "iPhone15,2",
                                 os_version="14.4" if platform == "macos" else "17.4",
                                 user_enrollment=mdm.get("EnrollmentMode") == "BYOD")
        run.udid, run.device = device.udid, device
        started = time.perf_counter()
        for step in (device.authenticate, device.token_update):
            status, body = step()
            if status != 200:
                raise SimulationError(f"{step.__name__}: HTTP {status} {body[:120]!r}")
        if platform == "macos" and not device.user_enrollment:
            status, _ = device.user_token_update("501", user_short_name)
            if status != 200:
                raise SimulationError(f"user channel TokenUpdate: HTTP {status}")
        self._timed(run, "checkin", started)

        started = time.perf_counter()
        self._answer_commands(device, run)
        self._timed(run, "commands", started)

    def _scep(self, scep: dict, key) -> x509.Certificate:
        url = self._url(scep["URL"])
        response = self.http.get(url, params={"operation": "GetCACert"})
        if response.status_code != 200:
            raise SimulationError(f"GetCACert: HTTP {response.status_code}")
        authority = read_ca_certificates(response.headers.get("content-type", ""),
                                         response.content)
        subject = x509.Name([x509.NameAttribute(NAME_OIDS[name], value)
                             for [[name, value]] in scep.get("Subject", [])
                             if name in NAME_OIDS])
        common_name = next((a.value for a in subject if a.oid == NameOID.COMMON_NAME), "device")
        request = build_request(make_csr(key, common_name, scep["Challenge"], subject=subject),
                                make_signer(common_name, key), authority.ra)
        response = self.http.post(url, params={"operation": "PKIOperation"},
                                  content=request.der,
                                  headers={"Content-Type": "application/x-pki-message"})
        if response.status_code != 200:
            raise SimulationError(f"PKIOperation: HTTP {response.status_code}")
        reply = decode_cert_rep(response.content, request, authority.ca, ra_cert=authority.ra)
        if reply.status is not PKIStatus.SUCCESS:
            reason = reply.fail_info.name if reply.fail_info else "no failInfo"
            raise SimulationError(f"SCEP refused: {reason}")
        return reply.certificate

    def live(self, device: SimulatedDevice, run: AppleRun | None = None) -> AppleRun:
        """A later check-in of an enrolled device: Idle, and answer what is queued."""
        run = run or AppleRun(udid=device.udid, device=device)
        self._answer_commands(device, run)
        return run

    def _renew(self, device: SimulatedDevice, profile: dict) -> None:
        """Install a re-enrollment profile: a new identity over SCEP, announced by an
        Authenticate and a TokenUpdate it signs."""
        if _payload(profile, "com.apple.mdm")["Topic"] != device.topic:
            raise SimulationError("the re-enrollment profile has another topic")
        key = self.renewal_key(device)
        cert = self._scep(_payload(profile, "com.apple.security.scep")["PayloadContent"], key)
        device.key, device.cert = key, cert
        for step in (device.authenticate, device.token_update):
            status, body = step()
            if status != 200:
                raise SimulationError(f"renewal {step.__name__}: HTTP {status} {body[:120]!r}")

    def _answer_commands(self, device: SimulatedDevice, run: AppleRun) -> None:
        status, body = device.idle()
        for _ in range(MAX_COMMANDS):
            if status != 200:
                raise SimulationError(f"Idle: HTTP {status}")
            if not body:
                return
            command = parse_command(body)
            request_type = command["Command"]["RequestType"]
            run.commands.append(request_type)
            uuid = command["CommandUUID"]
            if request_type == "DeviceInformation":
                mac = device.product_name.startswith("Mac")
                status, body = device.device_information(
                    uuid, DeviceName=f"Sim {device.udid[:8]}",
                    ModelName="MacBook Pro" if mac else "iPhone",
                    Model="Z15G" if mac else "MQA52")
            elif request_type == "ProfileList":
                status, body = device.report("Acknowledged", uuid, ProfileList=[])
            elif request_type == "InstallProfile" and _is_enrollment(command):
                self._renew(device, profile_contents(command["Command"]["Payload"]))
                run.renewals += 1
                status, body = device.report("Acknowledged", uuid)
            else:
                status, body = device.report("Acknowledged", uuid)
        raise SimulationError("the command queue did not empty")
