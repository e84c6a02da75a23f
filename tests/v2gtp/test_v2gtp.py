"""V2GTP header codec and the stream parser (split/coalesced TCP segments, typed errors)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stack import v2gtp
from stack.v2gtp import (
    InvalidProtocolVersion,
    PayloadTooLong,
    PayloadType,
    TruncatedMessage,
    UnknownPayloadType,
    V2GTPStream,
)

# The Ioniq's SAP response as captured: header + 4 EXI bytes
SAP_RES = bytes.fromhex("01fe80010000000480400040")


def test_header_layout_is_big_endian():
    assert v2gtp.encode(PayloadType.EXI, b"\x80\x40\x00\x40") == SAP_RES
    assert v2gtp.encode(0x9000, b"\x10\x00") == bytes.fromhex("01fe9000000000021000")


def test_fast_path_agrees_with_the_scapy_layer():
    from scapy.packet import Raw

    built = bytes(v2gtp.V2GTP(payload_type=0x8001) / Raw(b"\x80\x40\x00\x40"))
    assert built == SAP_RES
    parsed = v2gtp.V2GTP(SAP_RES + b"trailing")
    assert parsed.payload_type == 0x8001 and parsed.payload_length == 4
    assert parsed[Raw].load == b"\x80\x40\x00\x40"


def test_decode_datagram_checks_length_exactly():
    assert v2gtp.decode(SAP_RES).payload == b"\x80\x40\x00\x40"
    with pytest.raises(TruncatedMessage, match="header says 4 payload bytes, datagram carries 3"):
        v2gtp.decode(SAP_RES[:-1])
    with pytest.raises(v2gtp.V2GTPError, match="carries 5"):
        v2gtp.decode(SAP_RES + b"x")
    with pytest.raises(TruncatedMessage, match="shorter than the 8-byte header"):
        v2gtp.decode(b"\x01\xfe")


@pytest.mark.parametrize(("raw", "error"), [
    (bytes.fromhex("02fd800100000000"), InvalidProtocolVersion),
    (bytes.fromhex("01ff800100000000"), InvalidProtocolVersion),
    (bytes.fromhex("01fe123400000000"), UnknownPayloadType),
    (bytes.fromhex("01fe8001ffffffff"), PayloadTooLong),
])
def test_bad_headers_raise_typed_errors_naming_the_offset(raw, error):
    stream = V2GTPStream()
    with pytest.raises(error) as info:
        stream.feed(SAP_RES + raw)
    assert info.value.offset == len(SAP_RES)
    assert "V2GTP header" in str(info.value)
    with pytest.raises(error):
        stream.feed(b"more")  # out of sync for good


def test_iso20_payload_types_are_known():
    for value in (0x8002, 0x8003, 0x8004, 0x8005, 0x8006, 0x8101, 0x8102, 0x8103, 0x8104, 0x9002, 0x9003):
        assert v2gtp.decode(v2gtp.encode(value, b"")).payload_type == value
    assert v2gtp.payload_type_name(0x8004) == "ISO20_DC"


def test_limit_is_configurable():
    stream = V2GTPStream(max_payload=3)
    with pytest.raises(PayloadTooLong, match="limit of 3"):
        stream.feed(SAP_RES)


def test_stream_end_inside_a_message_is_a_truncation():
    stream = V2GTPStream()
    assert stream.feed(SAP_RES[:10]) == []
    assert stream.pending == 10
    with pytest.raises(TruncatedMessage, match="10 bytes of an incomplete message"):
        stream.close()


messages = st.lists(st.tuples(st.sampled_from([0x8001, 0x8002, 0x8004]), st.binary(max_size=300)), max_size=8)


@settings(deadline=None, max_examples=200)
@given(messages, st.lists(st.integers(min_value=1, max_value=50), min_size=1))
def test_any_segmentation_yields_the_same_messages(msgs, cuts):
    wire = b"".join(v2gtp.encode(t, p) for t, p in msgs)
    stream = V2GTPStream()
    out, pos, i = [], 0, 0
    while pos < len(wire):
        size = cuts[i % len(cuts)]
        out += stream.feed(wire[pos:pos + size])
        pos, i = pos + size, i + 1
    assert [(m.payload_type, m.payload) for m in out] == msgs
    assert stream.pending == 0
    stream.close()
