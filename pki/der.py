"""A small, fast ASN.1 BER/DER reader and DER writer for the CMS structures on hot paths.

asn1crypto parses lazily through generic specs, which costs about a millisecond per CMS
message: more than the RSA operation the message is there for. The reader here walks the
TLVs of what we know to expect and keeps every value as a slice of the input (so signed
bytes are exactly what the sender signed); the writer concatenates encodings.

Reading accepts BER definite and indefinite lengths (some SCEP clients send constructed,
indefinite-length values) and refuses what we never expect: high tag numbers, lengths over
4 bytes, nesting deeper than ``MAX_DEPTH``, trailing bytes. Every reading error is a
``DerError`` (a ValueError).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

MAX_DEPTH = 32

# Universal tags (with the constructed bit where ASN.1 says so).
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
TELETEX_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31
CONSTRUCTED = 0x20
CONTEXT = 0x80


class DerError(ValueError):
    """The bytes are not the ASN.1 structure expected."""


class Node(NamedTuple):
    """One TLV: ``data[start:end]`` is the whole encoding, ``data[content:content_end]`` its
    value (for an indefinite length, up to the end-of-contents octets). A tuple: reading a
    CMS message makes dozens of these, on every device request."""

    data: bytes
    tag: int
    start: int
    content: int
    content_end: int
    end: int
    depth: int = 0

    @property
    def raw(self) -> bytes:
        return self.data[self.start:self.end]

    @property
    def value(self) -> bytes:
        return self.data[self.content:self.content_end]

    @property
    def constructed(self) -> bool:
        return bool(self.tag & CONSTRUCTED)

    def children(self) -> list[Node]:
        data, tag, _, pos, limit, _, depth = self
        if not tag & CONSTRUCTED:
            raise DerError(f"tag {tag:#x} is not constructed")
        if depth >= MAX_DEPTH:
            raise DerError("nesting too deep")
        found, depth = [], depth + 1
        while pos < limit:  # _read inlined for the common short definite lengths
            if pos + 2 > limit:
                raise DerError("truncated TLV")
            child_tag, first = data[pos], data[pos + 1]
            if first < 0x80 and child_tag & 0x1F != 0x1F:
                end = pos + 2 + first
                if end > limit:
                    raise DerError("truncated value")
                found.append(_node(Node, (data, child_tag, pos, pos + 2, end, end, depth)))
                pos = end
                continue
            child = _read(data, pos, limit, depth)
            found.append(child)
            pos = child[5]  # end
        return found

    def expect(self, tag: int) -> Node:
        if self.tag != tag:
            raise DerError(f"expected tag {tag:#x}, found {self.tag:#x}")
        return self


# tuple.__new__ skips the NamedTuple's Python-level constructor: a CMS message makes dozens.
_node = tuple.__new__


def _read(data: bytes, pos: int, limit: int, depth: int) -> Node:
    if pos + 2 > limit:
        raise DerError("truncated TLV")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag numbers are not supported")
    content = pos + 2
    if first < 0x80:
        length: int | None = first
    elif first == 0x80:
        length = None
    else:
        count = first & 0x7F
        if count > 4 or content + count > limit:
            raise DerError("bad length")
        length = int.from_bytes(data[content:content + count], "big")
        content += count
    if length is not None:
        end = content + length
        if end > limit:
            raise DerError("truncated value")
        return _node(Node, (data, tag, pos, content, end, end, depth))
    if not tag & CONSTRUCTED:
        raise DerError("indefinite length on a primitive value")
    if depth >= MAX_DEPTH:
        raise DerError("nesting too deep")
    inner = content
    while True:  # walk the children up to the end-of-contents octets
        if inner + 2 > limit:
            raise DerError("missing end-of-contents")
        if data[inner] == 0 and data[inner + 1] == 0:
            return _node(Node, (data, tag, pos, content, inner, inner + 2, depth))
        inner = _read(data, inner, limit, depth + 1).end


def read(data: bytes, pos: int = 0, limit: int | None = None) -> Node:
    """The TLV at ``pos`` (need not fill the buffer)."""
    return _read(data, pos, len(data) if limit is None else limit, 0)


def read_whole(data: bytes) -> Node:
    """The single TLV that is all of ``data``."""
    if not isinstance(data, bytes):
        raise DerError("not bytes")
    node = read(data)
    if node.end != len(data):
        raise DerError("trailing bytes after the value")
    return node


# --- values --------------------------------------------------------------------------------


def decode_oid(node: Node) -> str:
    return _oid_text(node.expect(OID).value)


@lru_cache(maxsize=1024)  # the OIDs a server meets are few; decoding one costs microseconds
def _oid_text(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
    arcs, value = [], 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, (first, arcs[0] - 40 * first, *arcs[1:])))


def decode_integer(node: Node) -> int:
    body = node.expect(INTEGER).value
    if not body:
        raise DerError("empty INTEGER")
    return int.from_bytes(body, "big", signed=True)


def decode_octets(node: Node) -> bytes:
    """An OCTET STRING (or its implicitly tagged form), primitive or constructed."""
    if not node.constructed:
        return node.value
    chunks = node.children()
    if any(chunk.tag & ~CONSTRUCTED != OCTET_STRING for chunk in chunks):
        raise DerError("a constructed OCTET STRING holds something else")
    return b"".join(decode_octets(chunk) for chunk in chunks)


_STRING_CODECS = {
    UTF8_STRING: "utf-8", PRINTABLE_STRING: "ascii", IA5_STRING: "ascii",
    TELETEX_STRING: "latin-1", BMP_STRING: "utf-16-be",
}


def decode_string(node: Node) -> str:
    codec = _STRING_CODECS.get(node.tag)
    if codec is None:
        raise DerError(f"tag {node.tag:#x} is not a string type")
    try:
        return node.value.decode(codec)
    except UnicodeDecodeError as exc:
        raise DerError(f"undecodable string: {exc}") from exc


def decode_time(node: Node) -> dt.datetime:
    text = decode_string_ascii(node)
    formats = {UTC_TIME: "%y%m%d%H%M%SZ", GENERALIZED_TIME: "%Y%m%d%H%M%SZ"}
    if node.tag not in formats:
        raise DerError(f"tag {node.tag:#x} is not a time")
    try:
        return dt.datetime.strptime(text, formats[node.tag]).replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise DerError(f"unreadable time {text!r}") from exc


def decode_string_ascii(node: Node) -> str:
    try:
        return node.value.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DerError("not ASCII") from exc


def decode_native(node: Node) -> object:
    """The Python value of a simple universal type (what CMS attribute values hold)."""
    if node.tag == OCTET_STRING:
        return decode_octets(node)
    if node.tag == OID:
        return decode_oid(node)
    if node.tag in (UTC_TIME, GENERALIZED_TIME):
        return decode_time(node)
    if node.tag in _STRING_CODECS:
        return decode_string(node)
    if node.tag == INTEGER:
        return decode_integer(node)
    return node  # anything else is left to the caller


# --- writing -------------------------------------------------------------------------------


def length_octets(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(encoded),)) + encoded


def tlv(tag: int, *contents: bytes) -> bytes:
    body = b"".join(contents)
    return bytes((tag,)) + length_octets(len(body)) + body


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, *items)


def set_of(items: Iterable[bytes]) -> bytes:
    """A DER SET OF: elements sorted by their encodings."""
    return tlv(SET, *sorted(items))


def explicit(number: int, *contents: bytes) -> bytes:
    return tlv(CONTEXT | CONSTRUCTED | number, *contents)


def encode_oid(dotted: str) -> bytes:
    return _OID_CACHE.get(dotted) or _encode_oid(dotted)


_OID_CACHE: dict[str, bytes] = {}


def _encode_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in (40 * arcs[0] + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    encoded = tlv(OID, bytes(body))
    _OID_CACHE[dotted] = encoded
    return encoded


def encode_integer(value: int) -> bytes:
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def encode_octets(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def encode_time(value: dt.datetime) -> bytes:
    """UTCTime before 2050, GeneralizedTime from then on (RFC 5280 section 4.1.2.5)."""
    value = value.astimezone(dt.UTC)
    if value.year < 2050:
        return tlv(UTC_TIME, value.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(GENERALIZED_TIME, value.strftime("%Y%m%d%H%M%SZ").encode())


def algorithm(oid: str, parameters: bytes | None = b"\x05\x00") -> bytes:
    """AlgorithmIdentifier; parameters default to NULL, ``None`` leaves them out."""
    return sequence(encode_oid(oid), parameters or b"")
