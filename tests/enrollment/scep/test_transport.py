"""Decoding of the PKIOperation GET ``message`` parameter in the forms clients send."""

from __future__ import annotations

import base64
import contextlib
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrollment.scep.errors import UnparseableMessage
from enrollment.scep.transport import decode_message_param

# Chosen so that standard base64 has "+" and "/" and needs padding.
DER = bytes(range(256)) + b"\xfb\xff\xbe"
STANDARD = base64.b64encode(DER).decode()


def test_fixture_exercises_every_quirk() -> None:
    assert "+" in STANDARD and "/" in STANDARD and STANDARD.endswith("=")


@pytest.mark.parametrize(
    "value",
    [
        STANDARD,
        STANDARD.rstrip("="),  # padding dropped
        base64.urlsafe_b64encode(DER).decode(),  # URL-safe alphabet
        base64.urlsafe_b64encode(DER).decode().rstrip("="),
        STANDARD.replace("+", " "),  # "+" decoded as a space by the query parser
        quote(STANDARD, safe=""),  # percent-encoded once more than needed
        quote(quote(STANDARD, safe=""), safe=""),  # and by a client that escaped twice
        base64.encodebytes(DER).decode(),  # MIME lines
        base64.encodebytes(DER).decode().replace("\n", "\r\n"),
    ],
    ids=["standard", "no-padding", "urlsafe", "urlsafe-no-padding", "space-for-plus",
         "percent-encoded", "percent-encoded-twice", "mime-lines", "crlf-lines"],
)  # fmt: skip
def test_accepted_forms(value: str) -> None:
    assert decode_message_param(value) == DER


@pytest.mark.parametrize("value", ["", "=", "====", "abc*def", "A", "AAAAA", "é", "<xml/>"])
def test_refused(value: str) -> None:
    with pytest.raises(UnparseableMessage):
        decode_message_param(value)


def test_size_limit() -> None:
    with pytest.raises(UnparseableMessage):
        decode_message_param(base64.b64encode(b"x" * 2000).decode(), max_bytes=1000)
    with pytest.raises(UnparseableMessage):
        decode_message_param("A" * 10_000, max_bytes=1000)
    assert decode_message_param(base64.b64encode(b"x" * 1000).decode(), max_bytes=1000)


@given(st.binary(min_size=1, max_size=300))
def test_any_bytes_round_trip(data: bytes) -> None:
    encoded = base64.b64encode(data).decode()
    assert decode_message_param(encoded) == data
    assert decode_message_param(encoded.replace("+", " ").rstrip("=")) == data


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_any_text_gives_bytes_or_unparseable(value: str) -> None:
    with contextlib.suppress(UnparseableMessage):
        assert isinstance(decode_message_param(value), bytes)
