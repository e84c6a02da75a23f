"""The struct-based pcap/pcapng reader against scapy's reader, and its handling of damage and variants."""

from __future__ import annotations

import struct

import pytest

from harness.capture.pcapfile import CaptureError, Damage, Packet, Unsupported, read_capture
from tests.captures import CAPTURES


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.pcapng")), ids=lambda p: p.name[:24])
def test_same_packets_and_times_as_scapy(path):
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        theirs = [(float(p.time), bytes(p)) for p in reader]
    ours = list(read_capture(path))
    assert all(isinstance(item, Packet) for item in ours)
    assert [item.frame for item in ours] == [frame for _, frame in theirs]
    assert all(abs(item.t - t) < 1e-6 for item, (t, _) in zip(ours, theirs, strict=True))


def _block(kind: int, body: bytes, order: str = "<") -> bytes:
    body += b"\x00" * ((-len(body)) % 4)
    return struct.pack(order + "II", kind, 12 + len(body)) + body + struct.pack(order + "I", 12 + len(body))


def _pcapng(order: str, blocks: list[bytes]) -> bytes:
    shb = _block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)
    return shb + b"".join(blocks)


def test_big_endian_pcapng_with_nanosecond_resolution_comments_and_simple_packets(tmp_path):
    frame = bytes(range(60))
    tsresol = struct.pack(">HH", 9, 1) + b"\x09\x00\x00\x00" + struct.pack(">HH", 0, 0)
    idb = _block(1, struct.pack(">HHI", 1, 0, 65535) + tsresol, ">")
    ns = 1_700_000_000_123_456_789
    comment = b"hello"
    options = struct.pack(">HH", 1, len(comment)) + comment + b"\x00" * 3 + struct.pack(">HH", 0, 0)
    epb = _block(6, struct.pack(">IIIII", 0, ns >> 32, ns & 0xFFFFFFFF, 60, 60) + frame + options, ">")
    spb = _block(3, struct.pack(">I", 60) + frame, ">")
    other = _block(0x0BAD, b"ignored", ">")  # an unknown block type is skipped by its length
    path = tmp_path / "be.pcapng"
    path.write_bytes(_pcapng(">", [idb, epb, other, spb]))
    first, second = list(read_capture(path))
    assert first.frame == frame and first.comment == "hello"
    assert first.t == pytest.approx(1_700_000_000.123456789, abs=1e-6)
    assert second.frame == frame and second.t == first.t  # simple packets carry no time: the last one is kept


def test_obsolete_packet_blocks_are_read_like_enhanced_ones(tmp_path):
    idb = _block(1, struct.pack("<HHI", 1, 0, 65535))  # microseconds by default
    pb = _block(2, struct.pack("<HHIIII", 0, 0, 0, 2_500_000, 4, 4) + b"abcd")  # interface 0, 0 drops, t = 2.5 s
    bad = _block(2, struct.pack("<HHIIII", 5, 0, 0, 0, 4, 4) + b"abcd")  # no interface 5
    path = tmp_path / "pb.pcapng"
    path.write_bytes(_pcapng("<", [idb, pb, bad]))
    packet, damage = list(read_capture(path))
    assert isinstance(packet, Packet) and packet.frame == b"abcd" and packet.t == pytest.approx(2.5)
    assert isinstance(damage, Damage) and "interface 5" in damage.why


def test_damage_ends_the_readable_part_with_the_bytes(tmp_path):
    idb = _block(1, struct.pack("<HHI", 1, 0, 65535))
    epb = _block(6, struct.pack("<IIIII", 0, 0, 1_000_000, 60, 60) + bytes(60))
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(_pcapng("<", [idb, epb, struct.pack("<II", 6, 3) + b"garbage"]))
    items = list(read_capture(path))
    assert isinstance(items[0], Packet) and isinstance(items[1], Damage)
    assert "impossible length 3" in items[1].why and items[1].raw.startswith(b"\x06\x00\x00\x00")
    assert len(items) == 2


def test_packet_on_an_undeclared_interface_is_damage_but_reading_goes_on(tmp_path):
    idb = _block(1, struct.pack("<HHI", 1, 0, 65535))
    bad = _block(6, struct.pack("<IIIII", 7, 0, 0, 4, 4) + b"abcd")
    good = _block(6, struct.pack("<IIIII", 0, 0, 0, 4, 4) + b"abcd")
    path = tmp_path / "iface.pcapng"
    path.write_bytes(_pcapng("<", [idb, bad, good]))
    damage, packet = list(read_capture(path))
    assert isinstance(damage, Damage) and "interface 7" in damage.why and isinstance(packet, Packet)


def test_unknown_link_types_are_reported_not_decoded(tmp_path):
    path = tmp_path / "wifi.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105) +
                     struct.pack("<IIII", 1, 0, 4, 4) + b"abcd")
    (item,) = list(read_capture(path))
    assert isinstance(item, Unsupported) and item.linktype == 105


def test_files_that_are_not_captures(tmp_path):
    for content, words in ((b"", "too short"), (b"GIF89a....", "not a pcap"),
                           (b"\x0a\x0d\x0d\x0a\x08\x00\x00\x00\x00\x00\x00\x00", "byte-order magic")):
        path = tmp_path / "x"
        path.write_bytes(content)
        with pytest.raises(CaptureError, match=words):
            list(read_capture(path))
