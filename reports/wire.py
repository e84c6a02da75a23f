"""Ethernet / IPv6 / UDP / TCP headers around a payload, built with struct.

Why not scapy's layers: building a packet through scapy costs about 1 ms; a catalogue run writes a capture per
test with hundreds of frames each, so the report would spend tens of seconds on headers. These few fixed layouts
(RFC 8200 IPv6, RFC 768 UDP, RFC 9293 TCP, checksums over the RFC 8200 §8.1 pseudo-header) are short and the
tests check every field and checksum by re-reading the frames with scapy.
"""

from __future__ import annotations

import ipaddress
import struct

ETHERTYPE_IPV6 = 0x86DD
PROTO_TCP, PROTO_UDP = 6, 17
TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", "").replace("-", ""))


def ethernet(dst: str, src: str, ethertype: int) -> bytes:
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo(src: bytes, dst: bytes, length: int, proto: int) -> bytes:
    return src + dst + struct.pack("!I3xB", length, proto)


def ipv6(src: str, dst: str, proto: int, payload: bytes, hop_limit: int) -> bytes:
    head = struct.pack("!IHBB", 6 << 28, len(payload), proto, hop_limit)
    return head + ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + payload


def udp6_frame(src_mac: str, dst_mac: str, src: tuple[str, int], dst: tuple[str, int], payload: bytes,
               hop_limit: int = 255) -> bytes:
    s, d = ipaddress.IPv6Address(src[0]).packed, ipaddress.IPv6Address(dst[0]).packed
    length = 8 + len(payload)
    header = struct.pack("!HHHH", src[1], dst[1], length, 0)
    checksum = _checksum(_pseudo(s, d, length, PROTO_UDP) + header + payload) or 0xFFFF
    segment = struct.pack("!HHHH", src[1], dst[1], length, checksum) + payload
    return ethernet(dst_mac, src_mac, ETHERTYPE_IPV6) + ipv6(src[0], dst[0], PROTO_UDP, segment, hop_limit)


def tcp6_frame(src_mac: str, dst_mac: str, src: tuple[str, int], dst: tuple[str, int], payload: bytes, *,
               seq: int, ack: int, flags: str, window: int = 8192, hop_limit: int = 64) -> bytes:
    s, d = ipaddress.IPv6Address(src[0]).packed, ipaddress.IPv6Address(dst[0]).packed
    bits = 0
    for flag in flags:
        bits |= TCP_FLAGS[flag]
    header = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, bits, window,
                         0, 0)
    checksum = _checksum(_pseudo(s, d, len(header) + len(payload), PROTO_TCP) + header + payload)
    header = header[:16] + struct.pack("!H", checksum) + header[18:]
    return ethernet(dst_mac, src_mac, ETHERTYPE_IPV6) + ipv6(src[0], dst[0], PROTO_TCP, header + payload, hop_limit)
