"""A test's timeline as a pcapng capture that Wireshark opens, one comment per frame naming the decoded message.

Where the timeline has the wire bytes of a whole frame (HomePlug MMEs, whose `raw` is the Ethernet frame, or any
record carrying `frame` = hex of the whole Ethernet frame as captured) the frame goes in as it was. SDP and V2GTP
records carry only their payload (the harness speaks UDP/TCP through sockets or the in-process fabric, so there
are no IP headers to record); for those we synthesise Ethernet/IPv6/UDP or TCP headers around the payload
(`reports.wire`; the tests re-read every frame with scapy) — consistent addresses, ports, sequence numbers,
checksums and a three-way handshake — and the section header comment says so. Records without bytes (CP changes, state transitions) are not frames; the section comment counts them.

Why write the blocks ourselves: scapy's PcapNgWriter writes per-packet comments but no section-header comment
(shb_comment / shb_userappl), which is where the "synthetic headers" notice belongs. The format is small
(pcapng, IETF draft-ietf-opsawg-pcapng: SHB, IDB, EPB with options) and scapy's reader verifies our output in tests.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from harness.records import Record
from reports import analysis as an
from reports import wire

LINKTYPE_ETHERNET = 1
_SHB, _IDB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
_OPT_END, _OPT_COMMENT = 0, 1
_SHB_USERAPPL, _IF_NAME, _IF_DESCRIPTION, _IF_TSRESOL = 4, 2, 3, 9
V2G_PORT = 15118


def _option(code: int, value: bytes) -> bytes:
    padding = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * padding


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * ((-len(body)) % 4)
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


class PcapNgWriter:
    """Little-endian pcapng: one section, one Ethernet interface with microsecond timestamps."""

    def __init__(self, out: BinaryIO, *, comment: str, application: str, if_name: str = "plc0",
                 if_description: str = "") -> None:
        self.out = out
        options = _option(_OPT_COMMENT, comment.encode("utf-8")) + \
            _option(_SHB_USERAPPL, application.encode("utf-8")) + _option(_OPT_END, b"")
        out.write(_block(_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + options))
        if_options = _option(_IF_NAME, if_name.encode()) + \
            (_option(_IF_DESCRIPTION, if_description.encode()) if if_description else b"") + \
            _option(_IF_TSRESOL, bytes([6])) + _option(_OPT_END, b"")
        out.write(_block(_IDB, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 262144) + if_options))
        self.count = 0

    def write(self, timestamp: float, frame: bytes, comments: list[str]) -> None:
        micros = max(0, int(round(timestamp * 1_000_000)))
        options = b"".join(_option(_OPT_COMMENT, c.encode("utf-8")) for c in comments if c)
        if options:
            options += _option(_OPT_END, b"")
        head = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(frame), len(frame))
        padded = frame + b"\x00" * ((-len(frame)) % 4)
        self.out.write(_block(_EPB, head + padded + options))
        self.count += 1


# --------------------------------------------------------------------------- synthesis


def _mac_from_ipv6(address: str) -> str | None:
    """The MAC inside an EUI-64 link-local address (fe80::665:65ff:fe00:64c3 -> 04:65:65:00:64:c3)."""
    try:
        packed = ipaddress.IPv6Address(address).packed
    except ValueError:
        return None
    iid = packed[8:]
    if iid[3:5] != b"\xff\xfe":
        return None
    mac = bytes([iid[0] ^ 0x02]) + iid[1:3] + iid[5:8]
    return ":".join(f"{b:02x}" for b in mac)


def _multicast_mac(address: str) -> str:
    packed = ipaddress.IPv6Address(address).packed
    return "33:33:" + ":".join(f"{b:02x}" for b in packed[12:])


def _split(endpoint: str | None) -> tuple[str | None, int | None]:
    """`[fe80::1]:15118` -> ("fe80::1", 15118); `fe80::1` -> ("fe80::1", None)."""
    if not endpoint:
        return None, None
    text = str(endpoint)
    if text.startswith("[") and "]" in text:
        host, _, port = text[1:].partition("]")
        port = port.lstrip(":")
        return host, int(port) if port.isdigit() else None
    return text, None


def _is_ipv6(text: str | None) -> bool:
    if not text:
        return False
    try:
        ipaddress.IPv6Address(text)
        return True
    except ValueError:
        return False


@dataclass
class _Flow:
    """One TCP connection with the sequence numbers each side has used."""

    client: tuple[str, int]
    server: tuple[str, int]
    seq: dict[tuple[str, int], int] = field(default_factory=dict)
    opened: bool = False
    closed: bool = False

    def ends(self) -> tuple[tuple[str, int], tuple[str, int]]:
        return self.client, self.server

    def other(self, end: tuple[str, int]) -> tuple[str, int]:
        return self.server if end == self.client else self.client


@dataclass
class Stats:
    real: int = 0
    synthetic: int = 0
    handshake: int = 0
    without_bytes: int = 0


class _Synthesiser:
    def __init__(self, records: list[Record], dut_role: str | None) -> None:
        self.records = records
        self.sides = an.Sides.learn(records, dut_role)
        self.flows: dict[object, _Flow] = {}
        self.current: _Flow | None = None
        self.pending_connect: set[str] = set()  # server endpoints we saw a connect() to
        self.role_mac: dict[str, str] = {}
        self.role_ip: dict[str, str] = {}
        self.ip_mac: dict[str, str] = {}
        for record in records[1:]:
            role = self.sides.sender(record)
            if record.layer == "homeplug" and role and not self.sides.is_local(record) and record.src:
                self.role_mac.setdefault(role, str(record.src).lower())
            if record.layer in ("sdp", "exi", "v2gtp", "tcp"):
                host, _ = _split(record.src)
                if role and _is_ipv6(host) and not host.startswith("ff"):
                    self.role_ip.setdefault(role, host)

    # addresses -----------------------------------------------------------
    def mac(self, ip: str) -> str:
        if ip.lower().startswith("ff"):
            return _multicast_mac(ip)
        if ip in self.ip_mac:
            return self.ip_mac[ip]
        mac = _mac_from_ipv6(ip)
        if mac is None:
            role = next((r for r, a in self.role_ip.items() if a == ip), None)
            tail = ipaddress.IPv6Address(ip).packed[-3:]
            mac = self.role_mac.get(role or "") or "02:00:00:" + ":".join(f"{b:02x}" for b in tail)
        self.ip_mac[ip] = mac
        return mac

    def ip_of(self, role: str | None) -> str:
        if role and role in self.role_ip:
            return self.role_ip[role]
        return {"evse": "fe80::e", "pev": "fe80::c"}.get(role or "", "fe80::1")

    def frame(self, src: tuple[str, int], dst: tuple[str, int], payload: bytes, udp: bool = False,
              flags: str = "PA", flow: _Flow | None = None) -> bytes:
        if udp:
            return wire.udp6_frame(self.mac(src[0]), self.mac(dst[0]), src, dst, payload)
        assert flow is not None
        seq = flow.seq.setdefault(src, 1000 if src == flow.client else 5000)
        ack = flow.seq.setdefault(dst, 1000 if dst == flow.client else 5000)
        advance = len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
        flow.seq[src] = seq + advance
        return wire.tcp6_frame(self.mac(src[0]), self.mac(dst[0]), src, dst, payload, seq=seq,
                               ack=ack if "A" in flags else 0, flags=flags)

    # tcp flows -----------------------------------------------------------
    def flow_for(self, record: Record) -> tuple[_Flow, tuple[str, int], list[bytes]]:
        """The flow a stream record belongs to, the sending end, and handshake frames to emit first."""
        conn = record.extra.get("conn")
        src_host, src_port = _split(record.src)
        dst_host, dst_port = _split(record.dst)
        flow = self.flows.get(("conn", conn)) if conn is not None else None
        if flow is None:
            flow = self.current
            if flow is not None and not ({src_host, dst_host} - {None} <= {flow.client[0], flow.server[0]}):
                flow = None
        handshake: list[bytes] = []
        if flow is None or flow.closed:
            sender = self.sides.sender(record)
            host = src_host if _is_ipv6(src_host) else self.ip_of(sender)
            peer = dst_host if _is_ipv6(dst_host) else self.ip_of(an.Sides.other(sender or "pev"))
            sender_is_server = sender == "evse"
            mine = (host, src_port or (V2G_PORT if sender_is_server else 50000))
            theirs = (peer, dst_port or (50000 if sender_is_server else V2G_PORT))
            flow = _Flow(client=theirs if sender_is_server else mine, server=mine if sender_is_server else theirs)
            self.flows[("conn", conn) if conn is not None else ("pair", flow.ends())] = flow
            self.current = flow
        if not flow.opened:
            handshake = self.handshake(flow)
        from_server = (_only(src_host, flow.server[0], flow.client[0]) or
                       _only(dst_host, flow.client[0], flow.server[0]))
        from_client = (_only(src_host, flow.client[0], flow.server[0]) or
                       _only(dst_host, flow.server[0], flow.client[0]))
        if from_server == from_client:  # addresses do not tell (same host both ends, or none): ask the protocol
            from_server = self.sides.sender(record) == "evse"
        end = flow.server if from_server else flow.client
        return flow, end, handshake

    def handshake(self, flow: _Flow) -> list[bytes]:
        flow.opened = True
        return [self.frame(flow.client, flow.server, b"", flags="S", flow=flow),
                self.frame(flow.server, flow.client, b"", flags="SA", flow=flow),
                self.frame(flow.client, flow.server, b"", flags="A", flow=flow)]

    def tcp_event(self, record: Record) -> list[bytes]:
        """Records of layer `tcp`: connect/open set up a flow (with a handshake), close/closed send FIN."""
        conn = record.extra.get("conn")
        if record.name == "connect":
            host, port = _split(record.dst)
            if host:
                self.pending_connect.add(f"{host}:{port}")
            return []
        if record.name == "open":
            a, b = _split(record.src), _split(record.dst)
            if not (_is_ipv6(a[0]) and _is_ipv6(b[0]) and a[1] and b[1]):
                return []
            peer, local = (a[0], int(a[1])), (b[0], int(b[1]))
            if f"{peer[0]}:{peer[1]}" in self.pending_connect:  # we connected: we are the client
                flow = _Flow(client=local, server=peer)
            else:
                flow = _Flow(client=peer, server=local)
            self.flows[("conn", conn) if conn is not None else ("pair", flow.ends())] = flow
            self.current = flow
            return self.handshake(flow)
        if record.name in ("close", "closed"):
            flow = self.flows.get(("conn", conn)) if conn is not None else self.current
            if flow is None or flow.closed or not flow.opened:
                return []
            flow.closed = True
            host, _ = _split(record.src)
            first = flow.server if host == flow.server[0] else flow.client
            second = flow.other(first)
            return [self.frame(first, second, b"", flags="FA", flow=flow),
                    self.frame(second, first, b"", flags="FA", flow=flow),
                    self.frame(first, second, b"", flags="A", flow=flow)]
        return []

    def sdp(self, record: Record, payload: bytes) -> bytes:
        sender = self.sides.sender(record)
        src_host, src_port = _split(record.src)
        dst_host, dst_port = _split(record.dst)
        src = (src_host if _is_ipv6(src_host) else self.ip_of(sender), src_port or (V2G_PORT if sender == "evse"
                                                                                     else 50035))
        default_dst = "ff02::1" if record.name == "SDP.REQ" else self.ip_of(an.Sides.other(sender or "pev"))
        dst = (dst_host if _is_ipv6(dst_host) else default_dst, dst_port or (V2G_PORT if sender != "evse"
                                                                             else 50035))
        return self.frame(src, dst, payload, udp=True)


def _only(host: str | None, this: str, other: str) -> bool:
    """`host` is `this` end's address and not also the other end's."""
    return bool(host) and host == this and host != other


def _hex(value: object) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _comment(index: int, record: Record, dut_role: str | None, synthetic: bool) -> str:
    name = an.message_name(record)
    arrow = {"to_dut": " →DUT", "from_dut": " DUT→"}.get(record.dir or "", "")
    detail = an.detail(record)
    text = f"#{index} {record.layer} {name}{arrow}"
    if record.schema:
        text += f" [{record.schema}]"
    if detail:
        text += f" {detail}"
    if synthetic:
        text += " (synthetic Ethernet/IPv6 headers around the recorded payload)"
    return text


def write_pcapng(records: list[Record], path: str | Path, *, title: str = "", dut_role: str | None = None,
                 application: str = "ccs-hil") -> Stats:
    """Write the capture; returns how many frames were real, synthesised, and which records had no bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = records[0] if records else Record(0.0, "meta", "stream", extra={"clock": "virtual", "epoch": 0.0})
    clock = meta.extra.get("clock", "virtual")
    epoch = 0.0 if clock == "capture" else float(meta.extra.get("epoch") or 0.0)
    synth = _Synthesiser(records, dut_role)
    frames: list[tuple[float, bytes, list[str]]] = []
    stats = Stats()
    for index, record in an.iter_indexed(records):
        when = epoch + record.t
        whole = _hex(record.extra.get("frame"))
        if whole is not None:
            frames.append((when, whole, [_comment(index, record, dut_role, False)]))
            stats.real += 1
            continue
        if record.layer == "tcp":
            made = synth.tcp_event(record)
            frames.extend((when, f, [f"#{index} tcp {record.name} (synthetic TCP segment)"]) for f in made)
            stats.handshake += len(made)
            continue
        payload = _hex(record.raw)
        if payload is None:
            stats.without_bytes += 1
            continue
        if record.layer == "homeplug":
            frames.append((when, payload, [_comment(index, record, dut_role, False)]))
            stats.real += 1
        elif record.layer == "sdp":
            frames.append((when, synth.sdp(record, payload), [_comment(index, record, dut_role, True)]))
            stats.synthetic += 1
        elif record.layer in ("exi", "v2gtp"):
            flow, end, handshake = synth.flow_for(record)
            frames.extend((when, f, [f"#{index} synthetic TCP handshake"]) for f in handshake)
            stats.handshake += len(handshake)
            frames.append((when, synth.frame(end, flow.other(end), payload, flow=flow),
                           [_comment(index, record, dut_role, True)]))
            stats.synthetic += 1
        else:
            stats.without_bytes += 1
    notice = (f"ccs-hil capture of {title or 'a test timeline'}. "
              f"{stats.real} frame(s) are the recorded wire bytes (HomePlug MMEs, or whole frames the rig "
              f"captured). {stats.synthetic} SDP/V2GTP payload(s) are wrapped in SYNTHETIC Ethernet/IPv6/UDP/TCP "
              f"headers ({stats.handshake} synthetic TCP handshake/teardown segments): the harness records payloads, "
              f"not IP headers (the sim rig has no wire at all), so addresses, ports, sequence numbers and "
              f"checksums are made up to be consistent, and timestamps are the timeline's ({clock} clock). "
              f"{stats.without_bytes} record(s) without bytes (CP, state, test events) are only in the timeline.")
    with open(path, "wb") as handle:
        writer = PcapNgWriter(handle, comment=notice, application=application, if_name="plc0",
                              if_description="ccs-hil timeline (PLC link)")
        for when, frame, comments in frames:
            writer.write(when, frame, comments)
    return stats
