"""Sort captured frames into the wire events our describers understand.

HomePlug MMEs (ethertype 0x88E1) → `WireFrame`; IPv6 UDP to or from port 15118 (SDP) → `WireDatagram`; IPv6 TCP →
reassembled per connection into `WireStream` chunks plus `WireTcp` open/close events. Everything else on the link
(IPv4 syslog, mDNS, ICMPv6, DHCPv6, MLD) is counted in `CaptureStats.other`, not dropped silently. A frame that
cannot be parsed, or a file that ends mid-block, becomes a `WireError` carrying the bytes.

`Classifier` is the I/O-free core (frames in, events out) shared by `CaptureReader` (files) and `ccs-hil sniff`
(a live socket). Headers are parsed with `struct`, not scapy: dissecting every packet into scapy layers cost more
than everything else in `ccs-hil decode` together.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.pcapfile import CaptureError, Damage, Packet, Unsupported, read_capture
from harness.capture.reassembly import Delivery, TcpDirection

HOMEPLUG_ETHERTYPE = 0x88E1
ETH_IPV6 = 0x86DD
SDP_PORT = 15118
_VLAN = (0x8100, 0x88A8)
_IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options: (length + 1) × 8 bytes
_FRAGMENT, _AH, _TCP, _UDP = 44, 51, 6, 17
_IPV6 = struct.Struct("!IHBB16s16s")
_TCP_HEADER = struct.Struct("!HHIIBB")
_UDP_HEADER = struct.Struct("!HHH")

__all__ = ["CaptureError", "CaptureReader", "CaptureStats", "Classifier", "WireDatagram", "WireError", "WireEvent",
           "WireFrame", "WireStream", "WireTcp"]


@dataclass(frozen=True)
class WireFrame:
    t: float
    frame: bytes


@dataclass(frozen=True)
class WireDatagram:
    t: float
    data: bytes
    src: tuple[str, int]
    dst: tuple[str, int]
    frame: bytes = b""


@dataclass(frozen=True)
class WireTcp:
    t: float
    conn: int
    event: str  # "open" | "closed" | "reset"
    client: tuple[str, int]
    server: tuple[str, int]
    by_client: bool = True  # who sent the SYN, FIN or RST


@dataclass(frozen=True)
class WireStream:
    t: float
    conn: int
    from_client: bool
    data: bytes
    src: tuple[str, int]
    dst: tuple[str, int]
    gap: int = 0


@dataclass(frozen=True)
class WireError:
    t: float
    layer: str  # capture | ethernet | ipv6 | tcp | sdp
    error: str
    raw: bytes = b""
    src: str | None = None
    dst: str | None = None


WireEvent = WireFrame | WireDatagram | WireTcp | WireStream | WireError


@dataclass
class CaptureStats:
    frames: int = 0
    other: Counter = field(default_factory=Counter)
    retransmissions: int = 0
    homeplug: int = 0
    sdp: int = 0
    tcp_segments: int = 0


@dataclass
class _Conn:
    number: int
    client: tuple[str, int]
    server: tuple[str, int]
    directions: dict[bool, TcpDirection] = field(default_factory=lambda: {True: TcpDirection(), False: TcpDirection()})
    closed: bool = False


_ADDRESSES: dict[bytes, str] = {}


def ipv6_text(packed: bytes) -> str:
    """Compressed text form (RFC 5952), cached: a capture has a handful of addresses and thousands of packets."""
    text = _ADDRESSES.get(packed)
    if text is None:
        text = _ADDRESSES[packed] = socket.inet_ntop(socket.AF_INET6, packed)
    return text


class Classifier:
    """Frames in (with their capture time), wire events out; TCP state per connection lives here."""

    def __init__(self) -> None:
        self.stats = CaptureStats()
        self._conns: dict[tuple, _Conn] = {}
        self._count = 0
        self.last_t = 0.0

    def feed(self, t: float, raw: bytes) -> list[WireEvent]:
        self.stats.frames += 1
        self.last_t = t
        if len(raw) < 14:
            return [WireError(t, "ethernet", f"frame of {len(raw)} bytes is shorter than an Ethernet header (14)", raw)]
        ethertype = (raw[12] << 8) | raw[13]
        offset = 14
        while ethertype in _VLAN and len(raw) >= offset + 4:  # 802.1Q / 802.1ad tags
            ethertype, offset = (raw[offset + 2] << 8) | raw[offset + 3], offset + 4
        if ethertype == HOMEPLUG_ETHERTYPE:
            self.stats.homeplug += 1
            return [WireFrame(t, raw if offset == 14 else raw[:12] + raw[offset - 2:])]
        if ethertype == ETH_IPV6:
            return self._ipv6(t, raw, offset)
        self.stats.other[f"ethertype 0x{ethertype:04x}"] += 1
        return []

    def flush(self) -> list[WireEvent]:
        """End of input: data held behind gaps that will never be filled."""
        out: list[WireEvent] = []
        for conn in self._conns.values():
            for from_client, direction in conn.directions.items():
                for delivery in direction.flush():
                    out.append(self._stream(conn, from_client, delivery))
        self.stats.retransmissions = sum(d.retransmitted for c in self._conns.values() for d in c.directions.values())
        return out

    # ---------------------------------------------------------------- IPv6

    def _ipv6(self, t: float, raw: bytes, offset: int) -> list[WireEvent]:
        if len(raw) < offset + 40:
            return [WireError(t, "ipv6", f"IPv6 header truncated ({len(raw) - offset} of 40 bytes)", raw)]
        first, length, nh, _hops, src_b, dst_b = _IPV6.unpack_from(raw, offset)
        if first >> 28 != 6:
            return [WireError(t, "ipv6", f"ethertype says IPv6, the header says version {first >> 28}", raw)]
        start = offset + 40
        end = start + length if length else len(raw)  # trims Ethernet padding; 0 = jumbogram
        while nh in _IPV6_EXTENSIONS or nh in (_FRAGMENT, _AH):
            if start + 8 > len(raw):
                return [WireError(t, "ipv6", f"IPv6 extension header {nh} truncated", raw)]
            if nh == _FRAGMENT:
                self.stats.other["IPv6 fragment"] += 1  # V2G messages are far below the minimum MTU
                return []
            size = (raw[start + 1] + 2) * 4 if nh == _AH else (raw[start + 1] + 1) * 8
            nh, start = raw[start], start + size
        if nh not in (_TCP, _UDP):
            self.stats.other[f"IPv6 next header {nh}"] += 1
            return []
        src, dst = ipv6_text(src_b), ipv6_text(dst_b)
        truncated = end > len(raw)
        if nh == _UDP:
            return self._udp(t, raw, start, min(end, len(raw)), src, dst, truncated)
        return self._tcp(t, raw, start, min(end, len(raw)), src, dst, truncated)

    def _udp(self, t: float, raw: bytes, start: int, end: int, src: str, dst: str, truncated: bool) -> list[WireEvent]:
        if end - start < 8:
            return [WireError(t, "sdp", f"UDP header truncated ({end - start} of 8 bytes)", raw, src, dst)]
        sport, dport, length = _UDP_HEADER.unpack_from(raw, start)
        if SDP_PORT not in (sport, dport):
            self.stats.other[f"IPv6 UDP port {min(sport, dport)}"] += 1
            return []
        self.stats.sdp += 1
        if truncated or start + length > end or length < 8:
            return [WireError(t, "sdp", f"UDP datagram truncated (length {length}, {end - start} bytes captured)",
                              raw, src, dst)]
        return [WireDatagram(t, raw[start + 8:start + length], (src, sport), (dst, dport), raw)]

    # ---------------------------------------------------------------- TCP

    def _tcp(self, t: float, raw: bytes, start: int, end: int, src: str, dst: str, truncated: bool) -> list[WireEvent]:
        if end - start < 20:
            return [WireError(t, "tcp", f"TCP header truncated ({end - start} of 20 bytes)", raw, src, dst)]
        sport, dport, seq, _ack, data_offset, flags = _TCP_HEADER.unpack_from(raw, start)
        header = (data_offset >> 4) * 4
        a, b = (src, sport), (dst, dport)
        if header < 20 or start + header > end:
            return [WireError(t, "tcp", f"TCP data offset {header} does not fit the segment ({end - start} bytes)",
                              raw, src, dst)]
        self.stats.tcp_segments += 1
        out: list[WireEvent] = []
        if truncated:  # snap length cut the segment: what is missing becomes a gap in the stream
            out.append(WireError(t, "tcp", "segment truncated by the capture's snap length", raw, src, dst))
        payload = raw[start + header:end]
        syn, fin, rst, ack = bool(flags & 0x02), bool(flags & 0x01), bool(flags & 0x04), bool(flags & 0x10)
        key = (a, b) if a <= b else (b, a)
        conn = self._conns.get(key)
        if conn is None or (conn.closed and syn and not ack):
            if not payload and not syn:
                self.stats.other["TCP without data outside a connection"] += 1
                return out
            # The SYN sender is the client; without a SYN, the first side to send data (the EVCC speaks first) —
            # unless the SYN-ACK shows who the server is.
            client, server = (b, a) if syn and ack else (a, b)
            self._count += 1
            conn = _Conn(self._count, client, server)
            self._conns[key] = conn
            if syn:
                out.append(WireTcp(t, conn.number, "open", client, server))
        from_client = a == conn.client
        direction = conn.directions[from_client]
        for delivery in direction.segment(t, seq, payload, syn=syn):
            out.append(self._stream(conn, from_client, delivery))
        if (fin or rst) and not conn.closed:
            for delivery in direction.flush():
                out.append(self._stream(conn, from_client, delivery))
            conn.closed = True
            out.append(WireTcp(t, conn.number, "reset" if rst else "closed", conn.client, conn.server, from_client))
        return out

    def _stream(self, conn: _Conn, from_client: bool, d: Delivery) -> WireStream:
        src, dst = (conn.client, conn.server) if from_client else (conn.server, conn.client)
        return WireStream(d.t, conn.number, from_client, d.data, src, dst, d.gap)


class CaptureReader:
    """Iterate a capture file's wire events in capture order; `stats` fills in as it goes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.classifier = Classifier()
        self._items = read_capture(self.path)  # raises CaptureError now for a file that cannot be a capture

    @property
    def stats(self) -> CaptureStats:
        return self.classifier.stats

    def __iter__(self) -> Iterator[WireEvent]:
        classifier = self.classifier
        items, self._items = self._items, iter(())
        for item in items:
            if isinstance(item, Packet):
                yield from classifier.feed(item.t, item.frame)
            elif isinstance(item, Damage):
                yield WireError(item.t, "capture", f"capture unreadable after this point: {item.why}", bytes(item.raw))
            elif isinstance(item, Unsupported):
                classifier.stats.frames += 1
                classifier.stats.other[f"link type {item.linktype}"] += 1
        yield from classifier.flush()
