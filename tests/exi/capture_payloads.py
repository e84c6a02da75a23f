"""Test utility: pull V2GTP messages (and their EXI payloads) out of the shared pcapng captures.

TCP streams are reassembled per connection and direction (retransmitted segments are dropped, overlaps
trimmed), then split into V2GTP frames (8-byte header: version 0x01, inverse 0xFE, payload type, length).
This is deliberately small; the full capture decoder of the project lives elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tests.captures import CAPTURES
from tests.cli.reference import parse_reference

CAPTURE_DIR = str(CAPTURES)
V2GTP_EXI = 0x8001  # DIN / ISO-2 EXI payload type (ISO-20 uses 0x8001..0x8006 as well)


@dataclass(frozen=True)
class V2gtpMessage:
    capture: str  # file name
    connection: int  # index of the TCP connection within the capture
    src: str  # "addr:port"
    dst: str
    index: int  # message number within its direction of the connection
    payload_type: int
    payload: bytes  # V2GTP payload (the EXI stream for 0x8001..0x8006)
    time: float  # capture time of the segment completing the message


def capture_files() -> list[str]:
    if not os.path.isdir(CAPTURE_DIR):
        return []
    return sorted(os.path.join(CAPTURE_DIR, f) for f in os.listdir(CAPTURE_DIR) if f.endswith(".pcapng"))


def _streams(path: str) -> list[tuple[int, str, str, list[tuple[int, bytes, float]]]]:
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapNgReader

    conns: dict[tuple, int] = {}
    segs: dict[tuple[int, str, str], list[tuple[int, bytes, float]]] = {}
    n_conn = 0
    with PcapNgReader(path) as rd:
        for pkt in rd:
            if IPv6 not in pkt or TCP not in pkt:
                continue
            ip, tcp = pkt[IPv6], pkt[TCP]
            src, dst = f"[{ip.src}]:{tcp.sport}", f"[{ip.dst}]:{tcp.dport}"
            key = tuple(sorted((src, dst)))
            if tcp.flags.S and not tcp.flags.A:  # new connection (a reused 4-tuple starts afresh)
                conns[key] = n_conn
                n_conn += 1
            if key not in conns:
                conns[key] = n_conn
                n_conn += 1
            data = bytes(tcp.payload)
            if data:
                segs.setdefault((conns[key], src, dst), []).append((tcp.seq, data, float(pkt.time)))
    return [(c, s, d, v) for (c, s, d), v in segs.items()]


def _reassemble(segments: list[tuple[int, bytes, float]]) -> list[tuple[bytes, float]]:
    """In-order byte chunks with the time each chunk arrived (retransmissions dropped)."""
    base = segments[0][0]
    rel = sorted((((seq - base) & 0xFFFFFFFF), data, t) for seq, data, t in segments)
    out = []
    nxt = rel[0][0]
    for off, data, t in rel:
        if off + len(data) <= nxt:
            continue  # retransmission
        if off < nxt:
            data = data[nxt - off :]
        elif off > nxt:
            out.append((b"", t))  # gap: data missing from the capture
        out.append((data, t))
        nxt = max(nxt, off) + len(data)
    return out


def v2gtp_messages(path: str) -> list[V2gtpMessage]:
    msgs = []
    for conn, src, dst, segments in sorted(_streams(path)):
        buf = b""
        index = 0
        for chunk, t in _reassemble(segments):
            if not chunk:
                buf = b""  # gap: resynchronise on the next chunk
                continue
            buf += chunk
            while len(buf) >= 8:
                if buf[0] != 0x01 or buf[1] != 0xFE:
                    j = buf.find(b"\x01\xfe", 1)
                    buf = buf[j:] if j > 0 else b""
                    continue
                length = int.from_bytes(buf[4:8], "big")
                if len(buf) < 8 + length:
                    break
                ptype = int.from_bytes(buf[2:4], "big")
                msgs.append(V2gtpMessage(os.path.basename(path), conn, src, dst, index, ptype, buf[8 : 8 + length], t))
                index += 1
                buf = buf[8 + length :]
    msgs.sort(key=lambda m: m.time)
    return msgs


def exi_messages(path: str) -> list[V2gtpMessage]:
    return [m for m in v2gtp_messages(path) if 0x8001 <= m.payload_type <= 0x8006]


def decoded_reference(path: str) -> list[tuple[int, bytes, dict]]:
    """Blocks of a pyPLC `.decoded.txt` file: (packet number, EXI bytes, flat field dict)."""
    ref = path + ".decoded.txt"
    if not os.path.exists(ref):
        return []
    return [(block.number, bytes.fromhex(block.exi), block.fields) for block in parse_reference(ref)]
