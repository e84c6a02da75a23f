"""Read pcap/pcapng captures into the wire events our describers understand.

Frames are sorted by what CCS uses: HomePlug MMEs (ethertype 0x88E1) → `WireFrame`; IPv6 UDP to or from port 15118
(SDP) → `WireDatagram`; IPv6 TCP → reassembled per connection into `WireStream` chunks plus `WireTcp` open/close
events. Everything else on the link (IPv4 syslog, mDNS, ICMPv6, DHCPv6, MLD) is counted in `CaptureStats.other`,
not dropped silently. A frame that cannot be parsed, or a file that ends mid-block, becomes a `WireError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.reassembly import Delivery, TcpDirection

HOMEPLUG_ETHERTYPE = 0x88E1
ETH_IPV6 = 0x86DD
SDP_PORT = 15118


class CaptureError(Exception):
    """The capture file cannot be read at all (missing, unreadable, not a pcap/pcapng)."""


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


@dataclass(frozen=True)
class WireTcp:
    t: float
    conn: int
    event: str  # "open" | "closed" | "reset"
    client: tuple[str, int]
    server: tuple[str, int]


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
    layer: str
    error: str
    raw: bytes = b""


WireEvent = WireFrame | WireDatagram | WireTcp | WireStream | WireError


@dataclass
class CaptureStats:
    frames: int = 0
    other: Counter = field(default_factory=Counter)
    retransmissions: int = 0


@dataclass
class _Conn:
    number: int
    client: tuple[str, int]
    server: tuple[str, int]
    directions: dict[bool, TcpDirection] = field(default_factory=lambda: {True: TcpDirection(), False: TcpDirection()})
    closed: bool = False


def _packets(path: Path) -> Iterator[tuple[float, bytes] | WireError]:
    from scapy.utils import PcapReader

    try:
        reader = PcapReader(str(path))
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except PermissionError:
        raise CaptureError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory") from None
    except Exception as exc:  # scapy raises Scapy_Exception for unknown formats
        raise CaptureError(f"{path}: not a pcap or pcapng capture ({exc})") from None
    last_t = 0.0
    with reader:
        while True:
            try:
                packet = reader.read_packet()
            except EOFError:
                return
            except Exception as exc:  # a truncated or corrupt block ends the readable part
                yield WireError(last_t, "capture", f"capture unreadable after this point: {exc}")
                return
            if packet is None:
                return
            last_t = float(packet.time)
            yield last_t, bytes(packet)


class CaptureReader:
    """Iterate a capture's wire events in capture order; `stats` fills in as it goes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.stats = CaptureStats()
        self._conns: dict[tuple, _Conn] = {}

    def __iter__(self) -> Iterator[WireEvent]:
        last_t = 0.0
        for item in _packets(self.path):
            if isinstance(item, WireError):
                yield item
                continue
            t, raw = item
            last_t = t
            self.stats.frames += 1
            yield from self._classify(t, raw)
        yield from self._flush(last_t)

    def _classify(self, t: float, raw: bytes) -> Iterator[WireEvent]:
        if len(raw) < 14:
            yield WireError(t, "ethernet", f"frame of {len(raw)} bytes is shorter than an Ethernet header", raw)
            return
        ethertype = int.from_bytes(raw[12:14], "big")
        offset = 14
        if ethertype == 0x8100 and len(raw) >= 18:  # 802.1Q tag
            ethertype, offset = int.from_bytes(raw[16:18], "big"), 18
        if ethertype == HOMEPLUG_ETHERTYPE:
            yield WireFrame(t, raw)
        elif ethertype == ETH_IPV6:
            yield from self._ipv6(t, raw, offset)
        else:
            self.stats.other[f"ethertype 0x{ethertype:04x}"] += 1

    def _ipv6(self, t: float, raw: bytes, offset: int) -> Iterator[WireEvent]:
        from scapy.layers.inet import TCP, UDP
        from scapy.layers.inet6 import IPv6

        try:
            ip = IPv6(raw[offset:])
        except Exception as exc:
            yield WireError(t, "ipv6", f"unparseable IPv6 packet: {exc}", raw)
            return
        udp, tcp = ip.getlayer(UDP), ip.getlayer(TCP)
        if udp is not None and SDP_PORT in (udp.sport, udp.dport):
            yield WireDatagram(t, bytes(udp.payload), (ip.src, udp.sport), (ip.dst, udp.dport))
        elif tcp is not None:
            yield from self._tcp(t, ip, tcp)
        else:
            self.stats.other[_ipv6_kind(ip)] += 1

    def _tcp(self, t: float, ip, tcp) -> Iterator[WireEvent]:
        a, b = (ip.src, int(tcp.sport)), (ip.dst, int(tcp.dport))
        key = (a, b) if a <= b else (b, a)
        flags = int(tcp.flags)
        syn, fin, rst, ack = bool(flags & 0x02), bool(flags & 0x01), bool(flags & 0x04), bool(flags & 0x10)
        payload = bytes(tcp.payload)
        conn = self._conns.get(key)
        if conn is None or (conn.closed and syn and not ack):
            if not payload and not syn:
                self.stats.other["tcp without data outside a connection"] += 1
                return
            # The SYN sender is the client; without a SYN, the first side to send data (the EVCC speaks first).
            client, server = (a, b)
            conn = _Conn(len(self._conns) + 1, client, server)
            self._conns[key] = conn
            if syn and not ack:
                yield WireTcp(t, conn.number, "open", client, server)
        from_client = a == conn.client
        direction = conn.directions[from_client]
        for delivery in direction.segment(t, int(tcp.seq), payload, syn=syn):
            yield self._stream(conn, from_client, delivery)
        if (fin or rst) and not conn.closed:
            for delivery in direction.flush():
                yield self._stream(conn, from_client, delivery)
            conn.closed = True
            yield WireTcp(t, conn.number, "reset" if rst else "closed", conn.client, conn.server)

    def _stream(self, conn: _Conn, from_client: bool, d: Delivery) -> WireStream:
        src, dst = (conn.client, conn.server) if from_client else (conn.server, conn.client)
        return WireStream(d.t, conn.number, from_client, d.data, src, dst, d.gap)

    def _flush(self, t: float) -> Iterator[WireEvent]:
        for conn in self._conns.values():
            for from_client, direction in conn.directions.items():
                self.stats.retransmissions += direction.retransmitted
                for delivery in direction.flush():
                    yield self._stream(conn, from_client, delivery)


def _ipv6_kind(ip) -> str:
    from scapy.layers.inet import UDP

    udp = ip.getlayer(UDP)
    if udp is not None:
        return f"IPv6 UDP port {min(udp.sport, udp.dport)}"
    return f"IPv6 next header {ip.nh}"
