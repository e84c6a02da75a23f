"""TCP reassembly: every byte once, in order, whatever the capture did to the segments."""

from __future__ import annotations

import random

from harness.capture.reassembly import TcpDirection

DATA = bytes(range(256)) * 8


def _join(deliveries) -> bytes:
    return b"".join(d.data for d in deliveries)


def _segments(data: bytes, isn: int, sizes: list[int]) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    for size in sizes:
        out.append(((isn + 1 + pos) % (1 << 32), data[pos:pos + size]))
        pos += size
    return out


def test_in_order_split_segments():
    d = TcpDirection()
    d.segment(0.0, 1000, b"", syn=True)
    out = []
    for seq, chunk in _segments(DATA, 1000, [100] * 20 + [48]):
        out += d.segment(0.1, seq, chunk)
    assert _join(out) == DATA


def test_out_of_order_and_retransmitted_segments():
    rng = random.Random(7)
    segments = _segments(DATA, 5000, [64] * 32)
    shuffled = segments + rng.sample(segments, 10)  # duplicates = retransmissions
    rng.shuffle(shuffled)
    d = TcpDirection()
    d.segment(0.0, 5000, b"", syn=True)
    out = []
    for seq, chunk in shuffled:
        out += d.segment(0.1, seq, chunk)
    assert _join(out) == DATA
    assert d.retransmitted >= 1


def test_overlapping_retransmission_is_trimmed():
    d = TcpDirection()
    d.segment(0.0, 0, b"", syn=True)
    out = d.segment(0.1, 1, b"abcdef")
    out += d.segment(0.2, 4, b"defghi")  # overlaps 3 bytes already delivered
    assert _join(out) == b"abcdefghi"


def test_sequence_wraparound():
    d = TcpDirection()
    isn = (1 << 32) - 10
    d.segment(0.0, isn, b"", syn=True)
    out = []
    for seq, chunk in _segments(DATA[:64], isn, [16, 16, 16, 16]):
        out += d.segment(0.1, seq, chunk)
    assert _join(out) == DATA[:64]


def test_gap_never_filled_is_flushed_at_the_end_with_its_size():
    d = TcpDirection()
    d.segment(0.0, 0, b"", syn=True)
    out = d.segment(0.1, 1, b"aaaa")
    out += d.segment(0.2, 9, b"cccc")  # bytes 5..8 never arrive
    assert _join(out) == b"aaaa"
    rest = d.flush()
    assert _join(rest) == b"cccc" and rest[0].gap == 4


def test_capture_starting_mid_stream():
    d = TcpDirection()
    out = d.segment(0.0, 123456, b"hello")
    out += d.segment(0.1, 123461, b" world")
    assert _join(out) == b"hello world"
