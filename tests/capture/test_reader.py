"""Reading the shared real captures and crafted broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from harness.capture import (
    CaptureError,
    CaptureReader,
    WireDatagram,
    WireError,
    WireFrame,
    WireStream,
    WireTcp,
)

CAPTURES = Path(__file__).resolve().parents[2] / "tests" / "data" / "captures"
IONIQ = CAPTURES / "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"
COMPLEO = CAPTURES / "2023-04-19_compleo_pyPlc_lightbulb_failedBadRegulation.pcapng"
TAYCAN = CAPTURES / "2023-05-03_TaycanLeftside_slacFail.pcapng"


def _v2gtp_messages(events) -> list[bytes]:
    """Cut reassembled streams into V2GTP messages (8-byte header + length)."""
    buffers: dict[tuple[int, bool], bytes] = {}
    messages = []
    for e in events:
        if not isinstance(e, WireStream):
            continue
        key = (e.conn, e.from_client)
        buf = buffers.get(key, b"") + e.data
        while len(buf) >= 8 and len(buf) >= 8 + int.from_bytes(buf[4:8], "big"):
            n = 8 + int.from_bytes(buf[4:8], "big")
            messages.append(buf[:n])
            buf = buf[n:]
        buffers[key] = buf
    return messages


def test_ioniq_capture_counts_match_the_capture_notes():
    reader = CaptureReader(IONIQ)
    events = list(reader)
    assert sum(isinstance(e, WireFrame) for e in events) == 43
    assert sum(isinstance(e, WireDatagram) for e in events) == 2
    # 141 segments carry V2GTP, three of them TCP retransmissions (same sequence number and bytes; the notes
    # mention SessionSetupRes twice): each message must come out once.
    assert len(_v2gtp_messages(events)) == 138
    assert reader.stats.retransmissions == 3
    assert not [e for e in events if isinstance(e, WireError)]
    assert reader.stats.frames == 730
    opens = [e for e in events if isinstance(e, WireTcp) and e.event == "open"]
    assert len(opens) == 1 and opens[0].server[1] == 15118


def test_compleo_capture_has_284_v2gtp_messages_on_many_connections():
    events = list(CaptureReader(COMPLEO))
    messages = _v2gtp_messages(events)
    assert len(messages) == 284
    assert all(m[:2] == b"\x01\xfe" for m in messages)
    assert len({e.conn for e in events if isinstance(e, WireStream)}) > 1


def test_taycan_capture_has_only_slac_frames():
    events = list(CaptureReader(TAYCAN))
    assert sum(isinstance(e, WireFrame) for e in events) == 14
    assert not any(isinstance(e, WireStream) for e in events)


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(CaptureError, match="no such file"):
        list(CaptureReader(tmp_path / "nope.pcapng"))


def test_garbage_file_is_rejected(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture at all")
    with pytest.raises(CaptureError, match="not a pcap or pcapng"):
        list(CaptureReader(bad))


def test_truncated_file_keeps_what_was_readable(tmp_path):
    data = IONIQ.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) // 2 + 7])
    events = list(CaptureReader(cut))
    assert any(isinstance(e, WireFrame) for e in events)
    errors = [e for e in events if isinstance(e, WireError)]
    assert len(errors) <= 1


def test_out_of_order_segments_in_a_crafted_capture(tmp_path):
    client, server = ("fe80::1", 50000), ("fe80::2", 15118)
    message = b"\x01\xfe\x80\x01\x00\x00\x00\x10" + bytes(range(16))

    def seg(seq, payload, flags="PA"):
        return Ether() / IPv6(src=client[0], dst=server[0]) / TCP(sport=client[1], dport=server[1], seq=seq,
                                                                   flags=flags) / payload

    packets = [
        Ether() / IPv6(src=client[0], dst=server[0]) / TCP(sport=client[1], dport=server[1], seq=99, flags="S"),
        seg(110, message[10:]),  # arrives first
        seg(100, message[:10]),
        seg(100, message[:10]),  # retransmission
        Ether() / IPv6(src="fe80::9", dst="ff02::1") / UDP(sport=5353, dport=5353) / b"mdns",
    ]
    for i, p in enumerate(packets):
        p.time = 1000.0 + i
    path = tmp_path / "crafted.pcap"
    wrpcap(str(path), packets)
    reader = CaptureReader(path)
    events = list(reader)
    assert _v2gtp_messages(events) == [message]
    assert reader.stats.other["IPv6 UDP port 5353"] == 1
