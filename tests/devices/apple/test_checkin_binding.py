"""The certificate binding as a wrapper: a message reaches the service only once its
certificate may speak for the channel it names, and then with that channel in hand.
(Each refusal's answer and audit event are tested through the endpoints.)"""

from __future__ import annotations

import plistlib

import pytest
from django.utils import timezone

from devices.apple import messages as msg
from devices.apple.binding import CertificateBinding, RevokedCertificate
from devices.apple.service import CheckinRefused, CheckinRequest, Reply
from devices.apple.store import OrmCheckinStore
from devices.models import AppleChannel
from enrollment.models import IssuedCertificate
from pki.authority import fingerprint
from tests.base.apple.devices import issue_identity
from tests.devices.conftest import enroll

pytestmark = pytest.mark.django_db


class Recorder:
    """The next service: records what reached it."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def handle(r, m, *rest):
            self.calls.append((name, r, m))
            return Reply()
        return handle


@pytest.fixture
def chain():
    store = OrmCheckinStore()
    service = Recorder()
    return CertificateBinding(service, store), service, store


def request(tenant, sim) -> CheckinRequest:
    return CheckinRequest(tenant, certificate=sim.cert)


def message(sim, message_type: str, **keys):
    return msg.decode_checkin(plistlib.dumps(sim.checkin_message(message_type, **keys)))


def test_authenticate_reaches_the_service_with_registration_and_device(chain, iphone,
                                                                       apple_tenant):
    binding, service, _ = chain
    r = request(apple_tenant, iphone)
    m = message(iphone, "Authenticate")
    assert binding.authenticate(r, m) == Reply()
    assert service.calls == [("authenticate", r, m)]
    assert r.issued.fingerprint_sha256 == fingerprint(iphone.cert)
    assert r.registration == iphone.registration and r.device is None  # a new device


def test_a_bound_certificate_reaches_the_service_with_its_channel(chain, iphone,
                                                                  apple_tenant):
    enroll(iphone)
    binding, service, _ = chain
    r = request(apple_tenant, iphone)
    binding.check_out(r, message(iphone, "CheckOut"))
    assert [name for name, *_ in service.calls] == ["check_out"]
    assert r.channel == AppleChannel.objects.get(channel_id=iphone.udid)


def test_a_refused_certificate_never_reaches_the_service(chain, iphone, apple_tenant, jane):
    enroll(iphone)
    binding, service, _ = chain
    _, other = issue_identity(apple_tenant, jane)  # issued for another registration
    with pytest.raises(CheckinRefused) as refused:
        binding.user_authenticate(CheckinRequest(apple_tenant, certificate=other),
                                  message(iphone, "UserAuthenticate", UserID="U1"))
    assert refused.value.reason == "certificate_not_bound_to_this_device"
    IssuedCertificate.objects.filter(fingerprint_sha256=fingerprint(iphone.cert)).update(
        revoked_at=timezone.now())
    with pytest.raises(RevokedCertificate):
        binding.get_bootstrap_token(request(apple_tenant, iphone),
                                    message(iphone, "GetBootstrapToken"))
    assert service.calls == []


def test_a_report_carries_the_grant_the_idle_statement_checks(chain, iphone, apple_tenant):
    enroll(iphone)
    binding, service, store = chain
    r = request(apple_tenant, iphone)
    report = msg.decode_command_report(plistlib.dumps({"UDID": iphone.udid, "Status": "Idle"}))
    binding.command_report(r, report, b"")
    assert [name for name, *_ in service.calls] == ["command_report"]
    assert r.grant.fingerprint == fingerprint(iphone.cert)
    target = r.grant.target()  # the general check, run only when the service asks
    assert target == store.report_target(apple_tenant, iphone.udid)
    assert r.issued is None  # the bound certificate itself: no identity lookup was needed
