"""A simulated Apple device (the `simulate_devices` command, tests, benchmarks): signs its
MDM requests with its SCEP identity (Mdm-Signature: base64 detached CMS SignedData over the
body) and speaks the check-in and ServerURL protocol over any transport."""

from __future__ import annotations

import base64
import os
import plistlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

TOPIC = "com.apple.mgmt.External.2b5b1f9a-7f0e-4d1c-9a61-3d8f4f0b6c11"

# transport(path, body, headers) -> (status, body bytes)
Transport = Callable[[str, bytes, dict], tuple[int, bytes]]


@cache
def shared_key() -> rsa.RSAPrivateKey:
    """One device key for the whole test session: RSA generation is slow, and identities
    differ by certificate anyway."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mdm_signature(key, cert: x509.Certificate, body: bytes) -> str:
    der = (pkcs7.PKCS7SignatureBuilder().set_data(body)
           .add_signer(cert, key, hashes.SHA256())
           .sign(serialization.Encoding.DER,
                 [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))
    return base64.b64encode(der).decode()


@dataclass
class SimulatedDevice:
    tenant_slug: str
    transport: Transport
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    udid: str = field(default_factory=lambda: str(uuid.uuid4()).upper())
    serial_number: str = field(default_factory=lambda: "C02" + os.urandom(4).hex().upper())
    product_name: str = "iPhone10,3"
    os_version: str = "17.4"
    topic: str = TOPIC
    # User Enrollment (BYOD): the device names itself by an EnrollmentID, never its UDID or
    # serial number (``udid`` then holds that EnrollmentID).
    user_enrollment: bool = False

    @property
    def id_key(self) -> str:
        return "EnrollmentID" if self.user_enrollment else "UDID"

    @property
    def checkin_path(self) -> str:
        return f"/t/{self.tenant_slug}/mdm/checkin"

    @property
    def server_path(self) -> str:
        return f"/t/{self.tenant_slug}/mdm/server"

    def send(self, path: str, message: dict | bytes, *, sign: bool = True,
             signer: tuple | None = None) -> tuple[int, bytes]:
        body = message if isinstance(message, bytes) else plistlib.dumps(message)
        headers = {}
        if sign:
            key, cert = signer or (self.key, self.cert)
            headers["Mdm-Signature"] = mdm_signature(key, cert, body)
        return self.transport(path, body, headers)

    def checkin(self, message_type: str, **keys) -> tuple[int, bytes]:
        return self.send(self.checkin_path, self.checkin_message(message_type, **keys))

    def checkin_message(self, message_type: str, **keys) -> dict:
        return {"MessageType": message_type, self.id_key: self.udid, "Topic": self.topic,
                **keys}

    def authenticate(self, **keys) -> tuple[int, bytes]:
        if not self.user_enrollment:
            keys = {"SerialNumber": self.serial_number, **keys}
        return self.checkin("Authenticate", BuildVersion="21E219", OSVersion=self.os_version,
                            ProductName=self.product_name, **keys)

    def token_update(self, **keys) -> tuple[int, bytes]:
        values = {"Token": os.urandom(32), "PushMagic": str(uuid.uuid4()).upper(),
                  "UnlockToken": b"unlock-" + os.urandom(8), **keys}
        return self.checkin("TokenUpdate", **values)

    def user_token_update(self, user_id: str, short_name: str, **keys) -> tuple[int, bytes]:
        return self.token_update(UserID=user_id, UserShortName=short_name,
                                 UserLongName=short_name.title(), **keys)

    def checkout(self) -> tuple[int, bytes]:
        return self.checkin("CheckOut")

    def report(self, status: str = "Idle", command_uuid: str | None = None,
               **keys) -> tuple[int, bytes]:
        message = {self.id_key: self.udid, "Status": status, **keys}
        if command_uuid:
            message["CommandUUID"] = command_uuid
        return self.send(self.server_path, message)

    def idle(self) -> tuple[int, bytes]:
        return self.report("Idle")

    def device_information(self, command_uuid: str, **answers) -> tuple[int, bytes]:
        responses = {"DeviceName": "Test iPhone", "Model": "MQA52", "ModelName": "iPhone",
                     "ProductName": self.product_name, "OSVersion": self.os_version,
                     "BuildVersion": "21E219", **answers}
        if not self.user_enrollment:  # a personal device keeps its hardware ids to itself
            responses = {"UDID": self.udid, "SerialNumber": self.serial_number,
                         "IMEI": "35 000000 000000 0", **responses}
        return self.report("Acknowledged", command_uuid, RequestType="DeviceInformation",
                           QueryResponses=responses)


def parse_command(body: bytes) -> dict:
    return plistlib.loads(body)
