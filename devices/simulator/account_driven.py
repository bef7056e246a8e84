"""A simulated device enrolling by account sign-in (Apple account-driven enrollment), over
HTTP as a device does:

1. service discovery: ``GET /.well-known/com.apple.remotemanagement?user-identifier=<email>``,
   the ``BaseURL`` of the wanted ``Version``;
2. ``POST BaseURL`` with the signed machine info: 401, the sign-in ``url`` read from
   ``WWW-Authenticate``;
3. the web sign-in (what ASWebAuthenticationSession shows): the form, then email + password,
   up to the 308 to ``apple-remotemanagement-user-login://authentication-results``;
4. ``POST BaseURL`` again with ``Authorization: Bearer <access-token>``: the profile;
5. then SCEP and check-in as for any enrollment profile (``AppleEnrollment.install``).

Both modes: ``byod`` devices check in by EnrollmentID (User Enrollment), ``adde`` by UDID.
"""

from __future__ import annotations

import datetime as dt
import plistlib
import re
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from devices.simulator.enroll_apple import AppleEnrollment, AppleRun, SimulationError

CALLBACK_PREFIX = "apple-remotemanagement-user-login://authentication-results"
VERSIONS = {"adde": "mdm-adde", "byod": "mdm-byod"}
_AUTH_URL = re.compile(r'url="([^"]+)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def device_identity(key) -> x509.Certificate:
    """A stand-in for the device's built-in identity (Apple's, on a real device)."""
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Simulated device identity")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))


def signed_machine_info(key, *, product: str = "iPhone15,2", version: str = "21E236",
                        language: str = "en-US", certificate: x509.Certificate | None = None
                        ) -> bytes:
    """The body a device posts: its machine-info plist, CMS-signed (attached, DER)."""
    plist = plistlib.dumps({"LANGUAGE": language, "PRODUCT": product, "VERSION": version})
    return (pkcs7.PKCS7SignatureBuilder().set_data(plist)
            .add_signer(certificate or device_identity(key), key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


class AccountDrivenEnrollment:
    def __init__(self, enrollment: AppleEnrollment):
        self.enrollment = enrollment
        self.http = enrollment.http

    def _url(self, url: str) -> str:
        return self.enrollment._url(url)

    def discover(self, email: str, mode: str) -> str:
        response = self.http.get(f"{self.enrollment.server}/.well-known/com.apple.remotemanagement",
                                 params={"user-identifier": email, "model-family": "iPhone"})
        if response.status_code != 200:
            raise SimulationError(f"service discovery: HTTP {response.status_code}")
        for server in response.json().get("Servers", []):
            if server.get("Version") == VERSIONS[mode]:
                return server["BaseURL"]
        raise SimulationError(f"service discovery offers no {VERSIONS[mode]}")

    def request_profile(self, base_url: str, body: bytes, token: str | None = None
                        ) -> httpx.Response:
        headers = {"Content-Type": "application/pkcs7-signature"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.post(self._url(base_url), content=body, headers=headers)

    def sign_in(self, sign_in_url: str, email: str, password: str) -> str:
        """The web flow, in a browser of its own (cookies); the access token."""
        with httpx.Client(timeout=self.http.timeout) as browser:
            page = browser.get(self._url(sign_in_url), params={"user-identifier": email})
            match = _CSRF.search(page.text)
            if page.status_code != 200 or match is None:
                raise SimulationError(f"sign-in page: HTTP {page.status_code}")
            response = browser.post(str(page.url), data={
                "csrfmiddlewaretoken": match.group(1), "email": email, "password": password})
            location = response.headers.get("Location", "")
            if response.status_code not in (302, 303, 307, 308) or \
                    not location.startswith(CALLBACK_PREFIX):
                step = urljoin(str(page.url), location) if location else ""
                raise SimulationError(f"sign-in: HTTP {response.status_code} {step}".strip())
        token = parse_qs(urlsplit(location).query).get("access-token", [""])[0]
        if not token:
            raise SimulationError("sign-in: no access-token in the callback")
        return token

    def enroll(self, tenant_slug: str, email: str, password: str, key, *, mode: str = "adde",
               platform: str = "ios") -> AppleRun:
        started = time.perf_counter()
        base_url = self.discover(email, mode)
        body = signed_machine_info(
            key, product="Mac14,2" if platform == "macos" else "iPhone15,2")
        first = self.request_profile(base_url, body)
        challenge = _AUTH_URL.search(first.headers.get("WWW-Authenticate", ""))
        if first.status_code != 401 or challenge is None:
            raise SimulationError(f"first enrollment request: HTTP {first.status_code}, "
                                  "no apple-as-web challenge")
        token = self.sign_in(challenge.group(1), email, password)
        second = self.request_profile(base_url, body, token)
        if second.status_code != 200:
            raise SimulationError(f"enrollment request with the token: HTTP "
                                  f"{second.status_code}")
        run = AppleRun()
        run.timings["account"] = time.perf_counter() - started
        self.enrollment._install(run, time.perf_counter(), tenant_slug, second.content, key,
                                 platform=platform, user_short_name=email.split("@")[0])
        return run
