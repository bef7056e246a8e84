"""Mutated pkiMessages, envelopes and CSRs only ever raise ScepError subclasses.

Seeds are valid messages (ours in several ciphers and digests, and the captured micromdm
scepclient request); hypothesis flips bits, truncates, overwrites, duplicates and splices.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment.scep import envelope, messages
from enrollment.scep.errors import ScepError, UnparseableMessage
from enrollment.scep.oids import FailInfo, MessageType
from tests.base.scep.client import (
    FIXTURES,
    Identity,
    build_request,
    issue_certificate,
    make_csr,
    make_signer,
    micromdm_ca,
    new_key,
    shared_ca,
)

# SCEP_FUZZ_EXAMPLES=5000 for a longer hunt; 250 keeps the suite at a few seconds.
FUZZ = settings(
    max_examples=int(os.environ.get("SCEP_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def _signer() -> Identity:
    return make_signer()


@cache
def _seeds() -> tuple[tuple[bytes, Identity], ...]:
    ca, signer = shared_ca(), _signer()
    csr = make_csr(signer.key, "fuzz", "pw")
    ours = tuple(
        (build_request(csr, signer, ca.cert, cipher=cipher, digest=digest).der, ca)
        for cipher, digest in [("aes256", "sha256"), ("des", "sha1"), ("aes128", "sha512")]
    )
    return (*ours, ((FIXTURES / "pkcsreq_des_sha1.der").read_bytes(), micromdm_ca()))


@st.composite
def _mutation(draw: st.DrawFn, data: bytes, donors: list[bytes]) -> bytes:
    """1 to 3 random edits of ``data``."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        if not buffer:
            break
        at = draw(st.integers(0, len(buffer) - 1))
        kind = draw(st.sampled_from(["flip", "truncate", "overwrite", "duplicate", "splice"]))
        if kind == "flip":
            buffer[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del buffer[at:]
        elif kind == "overwrite":
            patch = draw(st.binary(min_size=1, max_size=8))
            buffer[at : at + len(patch)] = patch
        elif kind == "duplicate":
            end = draw(st.integers(at, min(len(buffer), at + 64)))
            buffer[at:at] = buffer[at:end]
        else:
            donor = draw(st.sampled_from(donors))
            start = draw(st.integers(0, len(donor) - 1))
            piece = donor[start : start + draw(st.integers(1, 300))]
            buffer[at : at + draw(st.integers(0, len(piece)))] = piece
    return bytes(buffer)


@st.composite
def _mutated_message(draw: st.DrawFn) -> tuple[bytes, Identity]:
    seeds = _seeds()
    der, ca = draw(st.sampled_from(seeds))
    return draw(_mutation(der, [seed for seed, _ in seeds])), ca


def _serve(der: bytes, ca: Identity) -> None:
    """What a view does with a request: every outcome is a reply or a ScepError."""
    try:
        msg = messages.parse_pki_message(der)
        request = messages.decrypt_request(msg, ca.key, ca.cert)
    except UnparseableMessage as exc:
        assert exc.reply_to is None and exc.fail_info is None
        return
    except ScepError as exc:
        assert exc.reply_to is not None and exc.fail_info is not None
        messages.build_cert_rep_failure(exc.reply_to, exc.fail_info, ca.key, ca.cert)
        return
    issued = issue_certificate(ca, request.csr)
    messages.build_cert_rep_success(msg, issued, ca.key, ca.cert)
    messages.build_cert_rep_failure(msg, FailInfo.BAD_REQUEST, ca.key, ca.cert)


@FUZZ
@given(_mutated_message())
def test_mutated_pki_messages(case: tuple[bytes, Identity]) -> None:
    _serve(*case)


def _envelope_of(der: bytes) -> bytes:
    return cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native


@st.composite
def _mutated_envelope(draw: st.DrawFn) -> tuple[bytes, Identity]:
    envelopes = [(_envelope_of(der), ca) for der, ca in _seeds()]
    data, ca = draw(st.sampled_from(envelopes))
    return draw(_mutation(data, [item for item, _ in envelopes])), ca


@FUZZ
@given(_mutated_envelope())
def test_mutated_envelopes(case: tuple[bytes, Identity]) -> None:
    data, ca = case
    with contextlib.suppress(ScepError):
        envelope.decrypt(data, ca.key, ca.cert)


@cache
def _csr_der() -> bytes:
    return make_csr(_signer().key, "fuzz", "pw", "bmp").public_bytes(Encoding.DER)


@st.composite
def _mutated_csr(draw: st.DrawFn) -> bytes:
    return draw(_mutation(_csr_der(), [_csr_der()]))


@FUZZ
@given(_mutated_csr())
def test_mutated_csrs_in_well_signed_messages(csr_der: bytes) -> None:
    ca, signer = shared_ca(), _signer()
    der = messages.sign_pki_message(
        envelope.encrypt_for(ca.cert, csr_der, "aes128"),
        message_type=MessageType.PKCS_REQ,
        transaction_id="fuzz",
        sender_nonce=b"\x01" * 16,
        signer_key=signer.key,
        signer_cert=signer.cert,
    )
    _serve(der, ca)


def test_csr_with_unknown_version_is_a_bad_request():
    """Found by the fuzzer: cryptography raises InvalidVersion (not a ValueError) for a CSR
    whose version field is not v1; it must become a CertRep failure, not escape."""
    from asn1crypto import csr as asn1_csr

    from enrollment.scep.errors import BadRequest

    ca = shared_ca()
    key = new_key()
    good = make_csr(key, "device", "secret")
    request_info = asn1_csr.CertificationRequest.load(
        good.public_bytes(Encoding.DER))
    request_info["certification_request_info"]["version"] = 1
    bad_der = request_info.dump(force=True)
    signer = make_signer("device", key)
    enveloped = envelope.encrypt_for(ca.cert, bad_der, "aes256")
    der = messages.sign_pki_message(enveloped, message_type=MessageType.PKCS_REQ,
                                    transaction_id="t1", sender_nonce=b"0" * 16,
                                    signer_key=signer.key, signer_cert=signer.cert)
    with pytest.raises(BadRequest):
        messages.decrypt_request(messages.parse_pki_message(der), ca.key, ca.cert)
