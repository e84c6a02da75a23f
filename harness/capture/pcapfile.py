"""Read pcap and pcapng files block by block with `struct`: (timestamp, Ethernet frame) per captured packet.

Why not scapy's PcapReader: it dissects every packet into layers (Ethernet, IPv6, TCP, ...) while reading, which
made it 80 % of `ccs-hil decode`'s time; we only need the bytes and the time. The formats are small and stable:
pcap (libpcap, microsecond or nanosecond magic, either byte order) and pcapng (IETF draft-ietf-opsawg-pcapng:
section header, interface description with `if_tsresol`/`if_tsoffset`, enhanced, simple and the obsolete packet
blocks; every other block type is skipped by its length).

Link types: Ethernet (1) as it is; Linux cooked captures SLL (113) and SLL2 (276) — what `tcpdump -i any` writes —
become Ethernet frames with the source address and protocol from the cooked header and a zero destination.
Packets of other link types are counted, not decoded.

A file that cannot be opened or is not a capture raises `CaptureError` (one line naming the file). Damage after a
valid start (a truncated last block, a garbage block length) yields one `Damage` item with the bytes it could not
use, and reading stops there: everything before it is still decoded.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
_PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
               b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_BLOCK_SHB, _BLOCK_IDB, _BLOCK_PB, _BLOCK_SPB, _BLOCK_EPB = 0x0A0D0D0A, 1, 2, 3, 6
_OPT_COMMENT, _IF_TSRESOL, _IF_TSOFFSET = 1, 9, 14
MAX_BLOCK = 64 << 20  # a block length beyond this is garbage, not a packet
_RAW_CAP = 64 << 10  # hex of damaged bytes kept in an error record


class CaptureError(Exception):
    """The capture file cannot be read at all (missing, unreadable, not a pcap/pcapng)."""


@dataclass(frozen=True)
class Packet:
    t: float
    frame: bytes  # an Ethernet frame (cooked captures converted)
    linktype: int = LINKTYPE_ETHERNET
    comment: str | None = None


@dataclass(frozen=True)
class Damage:
    """The readable part of the file ended: why, and the bytes that could not be used."""

    t: float
    why: str
    raw: bytes


@dataclass(frozen=True)
class Unsupported:
    """A packet on an interface whose link type we do not decode."""

    t: float
    linktype: int


Item = Packet | Damage | Unsupported


def read_capture(path: str | Path) -> Iterator[Item]:
    """Every packet of a pcap or pcapng file, in file order."""
    path = Path(path)
    data = _load(path)
    magic = data[:4]
    if magic == _PCAPNG_SHB:
        items = _pcapng(path, data)
    elif magic in _PCAP_MAGIC:
        if len(data) < 24:
            _close(data)
            raise CaptureError(f"{path}: pcap global header truncated ({len(data)} of 24 bytes)")
        items = _pcap(data, *_PCAP_MAGIC[magic])
    else:
        head = data[:8].hex()
        _close(data)
        raise CaptureError(f"{path}: not a pcap or pcapng capture (starts with {head})")
    return _closing(items, data)


def _closing(items: Iterator[Item], data: bytes | mmap.mmap) -> Iterator[Item]:
    try:
        yield from items
    finally:
        _close(data)


def _close(data: bytes | mmap.mmap) -> None:
    if isinstance(data, mmap.mmap):
        data.close()


def _load(path: Path) -> bytes | mmap.mmap:
    """The file's bytes; large files are mapped rather than read (field captures can be hundreds of MB)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            if size < 4:
                raise CaptureError(f"{path}: {size} bytes, too short to be a pcap or pcapng capture")
            if size < (8 << 20):
                handle.seek(0)
                return handle.read()
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory, not a capture file") from None
    except PermissionError:
        raise CaptureError(f"{path}: permission denied") from None
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _frame(linktype: int, data: bytes) -> bytes | None:
    """The packet as an Ethernet frame, or None for link types we do not decode."""
    if linktype == LINKTYPE_ETHERNET:
        return data
    if linktype == LINKTYPE_LINUX_SLL and len(data) >= 16:
        addr_len = min(8, int.from_bytes(data[4:6], "big"))
        source = data[6:6 + addr_len][:6].ljust(6, b"\x00")
        return b"\x00" * 6 + source + data[14:16] + data[16:]
    if linktype == LINKTYPE_LINUX_SLL2 and len(data) >= 20:
        addr_len = min(8, data[11])
        source = data[12:12 + addr_len][:6].ljust(6, b"\x00")
        return b"\x00" * 6 + source + data[0:2] + data[20:]
    return None


def _packet(t: float, linktype: int, data: bytes, comment: str | None = None) -> Packet | Unsupported:
    frame = _frame(linktype, data)
    if frame is None:
        return Unsupported(t, linktype)
    return Packet(t, frame, linktype, comment)


# --------------------------------------------------------------------------- pcap


def _pcap(data: bytes | mmap.mmap, order: str, unit: float) -> Iterator[Item]:
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    offset, end, t = 24, len(data), 0.0
    while offset < end:
        if end - offset < 16:
            yield Damage(t, f"file ends inside a packet record header at byte {offset}", data[offset:offset + _RAW_CAP])
            return
        seconds, fraction, captured, _original = record.unpack_from(data, offset)
        if captured > MAX_BLOCK:
            yield Damage(t, f"packet record at byte {offset} claims {captured} bytes: the file is corrupt from here",
                         data[offset:offset + _RAW_CAP])
            return
        start = offset + 16
        t = seconds + fraction * unit
        if start + captured > end:
            yield Damage(t, f"file ends inside the packet at byte {offset} ({end - start} of {captured} bytes)",
                         data[start:start + _RAW_CAP])
            return
        yield _packet(t, linktype, data[start:start + captured])
        offset = start + captured


# --------------------------------------------------------------------------- pcapng


@dataclass
class _Interface:
    linktype: int
    unit: float = 1e-6
    offset: float = 0.0


def _options(body: bytes, start: int, order: str) -> Iterator[tuple[int, bytes]]:
    offset = start
    while offset + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, offset)
        if code == 0:
            return
        yield code, body[offset + 4:offset + 4 + length]
        offset += 4 + length + ((-length) % 4)


def _tsresol(value: bytes) -> float:
    if not value:
        return 1e-6
    exponent = value[0] & 0x7F
    return 2.0 ** -exponent if value[0] & 0x80 else 10.0 ** -exponent


def _comment(body: bytes, start: int, order: str) -> str | None:
    texts = [v.decode("utf-8", "replace") for code, v in _options(body, start, order) if code == _OPT_COMMENT]
    return "\n".join(texts) if texts else None


def _pcapng(path: Path, data: bytes | mmap.mmap) -> Iterator[Item]:
    order = "<"
    interfaces: list[_Interface] = []
    offset, end, t = 0, len(data), 0.0
    first = True
    while offset < end:
        if end - offset < 12:
            yield Damage(t, f"file ends inside a block header at byte {offset}", data[offset:offset + _RAW_CAP])
            return
        if data[offset:offset + 4] == _PCAPNG_SHB:
            magic = data[offset + 8:offset + 12]
            if magic == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif magic == b"\x1a\x2b\x3c\x4d":
                order = ">"
            elif first:
                raise CaptureError(f"{path}: pcapng section header with a bad byte-order magic ({magic.hex()})")
            else:
                yield Damage(t, f"section header at byte {offset} has a bad byte-order magic",
                             data[offset:offset + _RAW_CAP])
                return
            interfaces = []  # interface ids restart in every section
        block_type, length = struct.unpack_from(order + "II", data, offset)
        if length < 12 or length % 4 or length > MAX_BLOCK:
            if first:
                raise CaptureError(f"{path}: pcapng section header with an impossible length {length}")
            yield Damage(t, f"block at byte {offset} has an impossible length {length}: the file is corrupt from here",
                         data[offset:offset + _RAW_CAP])
            return
        if offset + length > end:
            if first:
                raise CaptureError(f"{path}: pcapng section header truncated")
            yield Damage(t, f"file ends inside a block at byte {offset} ({end - offset} of {length} bytes)",
                         data[offset:offset + _RAW_CAP])
            return
        first = False
        body = data[offset + 8:offset + length - 4]
        offset += length
        if block_type == _BLOCK_IDB and len(body) >= 8:
            interface = _Interface(struct.unpack_from(order + "H", body, 0)[0])
            for code, value in _options(body, 8, order):
                if code == _IF_TSRESOL:
                    interface.unit = _tsresol(value)
                elif code == _IF_TSOFFSET and len(value) >= 8:
                    interface.offset = float(struct.unpack_from(order + "q", value)[0])
            interfaces.append(interface)
        elif block_type in (_BLOCK_EPB, _BLOCK_PB) and len(body) >= 20:
            if block_type == _BLOCK_EPB:
                iface, high, low, captured, _original = struct.unpack_from(order + "IIIII", body, 0)
            else:  # the obsolete Packet Block: 16-bit interface ID and drop count
                iface, _drops, high, low, captured, _original = struct.unpack_from(order + "HHIIII", body, 0)
            item = _timed(interfaces, iface, high, low, body, 20, captured, order)
            if isinstance(item, Damage):
                yield Damage(t, item.why, body)
                continue
            t = item.t
            yield item
        elif block_type == _BLOCK_SPB and len(body) >= 4 and interfaces:
            original = struct.unpack_from(order + "I", body, 0)[0]
            yield _packet(t, interfaces[0].linktype, body[4:4 + min(original, len(body) - 4)])


def _timed(interfaces: list[_Interface], iface: int, high: int, low: int, body: bytes, start: int,
           captured: int, order: str) -> Packet | Unsupported | Damage:
    if iface >= len(interfaces):
        return Damage(0.0, f"packet names interface {iface}, the section describes {len(interfaces)}", b"")
    if start + captured > len(body):
        return Damage(0.0, f"packet claims {captured} bytes, its block holds {len(body) - start}", b"")
    interface = interfaces[iface]
    t = ((high << 32) | low) * interface.unit + interface.offset
    padded = start + captured + ((-captured) % 4)
    comment = _comment(body, padded, order) if padded < len(body) else None
    return _packet(t, interface.linktype, body[start:start + captured], comment)
