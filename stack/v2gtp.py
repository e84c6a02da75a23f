"""V2G Transfer Protocol (ISO 15118-2 §7.8.3, DIN SPEC 70121 §8.7.3): the 8-byte header in front of every SDP
datagram and every EXI message on TCP.

Header: protocol version 0x01, its bit inverse 0xFE, payload type (2 bytes) and payload length (4 bytes, not
counting the header), all big-endian [V2G2-085]. The layout is declared once as a scapy layer (`V2GTP`, used by the
sniffer, pcap writing and the SDP layers in `stack.sdp`); the hot loop (every charge-loop message) uses the
struct-based fast path `encode`/`V2GTPStream`, which the tests check against the scapy layer.

TCP gives no message boundaries: `V2GTPStream.feed` reassembles messages from arbitrarily split or coalesced
segments and raises a typed `V2GTPError` on a header that cannot be right (after which the stream is out of
sync for good, and the connection must be closed).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from scapy.fields import IntField, XByteField, XShortEnumField
from scapy.packet import Packet

from stack.errors import MalformedInput

PROTOCOL_VERSION = 0x01
INVERSE_PROTOCOL_VERSION = 0xFE
HEADER_LENGTH = 8
# A sane bound on one message: ISO 15118-2 certificate messages are a few kB; 1 MiB protects against a garbage
# length field making us buffer forever. Configurable per stream.
DEFAULT_MAX_PAYLOAD = 1 << 20

_HEADER = struct.Struct("!BBHI")


class PayloadType(IntEnum):
    """V2GTP payload types (ISO 15118-2 Table 10, ISO 15118-20 Table 13; [Josev] enums.py)."""

    EXI = 0x8001  # DIN / ISO 15118-2 messages incl. SAP; ISO 15118-20: SupportedAppProtocol only
    ISO20_MAINSTREAM = 0x8002  # ISO 15118-20 common messages
    ISO20_AC = 0x8003
    ISO20_DC = 0x8004
    ISO20_ACDP = 0x8005
    ISO20_WPT = 0x8006
    ISO20_SCHEDULE_RENEGOTIATION = 0x8101
    ISO20_METERING_CONFIRMATION = 0x8102
    ISO20_ACDP_SYSTEM_STATUS = 0x8103
    ISO20_PARKING_STATUS = 0x8104
    SDP_REQUEST = 0x9000
    SDP_RESPONSE = 0x9001
    SDP_REQUEST_WIRELESS = 0x9002
    SDP_RESPONSE_WIRELESS = 0x9003


KNOWN_PAYLOAD_TYPES = frozenset(int(p) for p in PayloadType)
EXI_PAYLOAD_TYPES = frozenset(int(p) for p in PayloadType if 0x8001 <= p <= 0x8104)
SDP_PAYLOAD_TYPES = frozenset({0x9000, 0x9001, 0x9002, 0x9003})


def payload_type_name(value: int) -> str:
    try:
        return PayloadType(value).name
    except ValueError:
        return f"0x{value:04x}"


# --------------------------------------------------------------------------- errors


class V2GTPError(MalformedInput):
    """A V2GTP header that cannot be accepted. `offset` is where in the stream/datagram the header started."""

    def __init__(self, why: str, offset: int = 0, header: bytes = b"") -> None:
        self.offset, self.header = offset, header
        super().__init__("V2GTP header", offset, why)


class InvalidProtocolVersion(V2GTPError):
    """Version byte is not 0x01 or the inverse byte is not its complement (ISO 15118-2 §7.8.3.2: drop the message)."""


class UnknownPayloadType(V2GTPError):
    """Payload type this node does not know (ISO 15118-2 §7.8.3.2: drop the message)."""


class PayloadTooLong(V2GTPError):
    """Payload length above the receiver's limit (ISO 15118-2 §7.8.3.2: the receiver may reject it)."""


class TruncatedMessage(V2GTPError):
    """A datagram shorter than its header says, or a stream that ended in the middle of a message."""


# --------------------------------------------------------------------------- scapy layer


class V2GTP(Packet):
    """The V2GTP header as a scapy layer; `payload_length` is filled in from the payload when left None."""

    name = "V2GTP"
    fields_desc = [
        XByteField("version", PROTOCOL_VERSION),
        XByteField("inverse_version", INVERSE_PROTOCOL_VERSION),
        XShortEnumField("payload_type", PayloadType.EXI, {int(p): p.name for p in PayloadType}),
        IntField("payload_length", None),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.payload_length is None:
            pkt = pkt[:4] + struct.pack("!I", len(pay)) + pkt[8:]
        return pkt + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        length = self.payload_length or 0
        return s[:length], s[length:]


# --------------------------------------------------------------------------- fast path


@dataclass(frozen=True)
class V2GTPMessage:
    payload_type: int
    payload: bytes

    @property
    def is_exi(self) -> bool:
        return self.payload_type in EXI_PAYLOAD_TYPES

    def to_bytes(self) -> bytes:
        return encode(self.payload_type, self.payload)


def encode(payload_type: int, payload: bytes) -> bytes:
    return _HEADER.pack(PROTOCOL_VERSION, INVERSE_PROTOCOL_VERSION, payload_type, len(payload)) + payload


def encode_exi(payload: bytes) -> bytes:
    return _HEADER.pack(PROTOCOL_VERSION, INVERSE_PROTOCOL_VERSION, PayloadType.EXI, len(payload)) + payload


def check_header(header: bytes, offset: int = 0, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 accepted: frozenset[int] = KNOWN_PAYLOAD_TYPES) -> tuple[int, int]:
    """Validate an 8-byte header; returns (payload_type, payload_length) or raises the matching `V2GTPError`."""
    version, inverse, payload_type, length = _HEADER.unpack_from(header, 0)
    if version != PROTOCOL_VERSION or inverse != INVERSE_PROTOCOL_VERSION:
        raise InvalidProtocolVersion(f"version 0x{version:02x}/0x{inverse:02x}, expected 0x01/0xfe", offset,
                                     bytes(header[:HEADER_LENGTH]))
    if payload_type not in accepted:
        raise UnknownPayloadType(f"payload type 0x{payload_type:04x} not supported", offset,
                                 bytes(header[:HEADER_LENGTH]))
    if length > max_payload:
        raise PayloadTooLong(f"payload length {length} exceeds the limit of {max_payload} bytes", offset,
                             bytes(header[:HEADER_LENGTH]))
    return payload_type, length


def decode(data: bytes, max_payload: int = DEFAULT_MAX_PAYLOAD,
           accepted: frozenset[int] = KNOWN_PAYLOAD_TYPES) -> V2GTPMessage:
    """One whole V2GTP message (a UDP datagram): the length must match the datagram exactly."""
    if len(data) < HEADER_LENGTH:
        raise TruncatedMessage(f"{len(data)} bytes is shorter than the 8-byte header", 0, bytes(data))
    payload_type, length = check_header(data, 0, max_payload, accepted)
    if len(data) - HEADER_LENGTH != length:
        kind = TruncatedMessage if len(data) - HEADER_LENGTH < length else V2GTPError
        raise kind(f"header says {length} payload bytes, datagram carries {len(data) - HEADER_LENGTH}", 0,
                   bytes(data[:HEADER_LENGTH]))
    return V2GTPMessage(payload_type, bytes(data[HEADER_LENGTH:]))


class V2GTPStream:
    """Reassembles V2GTP messages from one direction of a TCP connection.

    `feed` returns every message completed by the new bytes, in order. A bad header raises a `V2GTPError`; the
    stream stays broken afterwards (every later `feed` raises the same error), since message boundaries are lost.
    """

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 accepted: frozenset[int] = KNOWN_PAYLOAD_TYPES) -> None:
        self.max_payload, self.accepted = max_payload, accepted
        self._buffer = bytearray()
        self._consumed = 0  # stream offset of _buffer[0]
        self._need: tuple[int, int] | None = None  # (payload_type, length) of the message being collected
        self.error: V2GTPError | None = None

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message held (a partly received message when a timer expires is corrupt,
        [V2G2-537])."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[V2GTPMessage]:
        if self.error is not None:
            raise self.error
        self._buffer += data
        out: list[V2GTPMessage] = []
        buffer = self._buffer
        start = 0
        while True:
            if self._need is None:
                if len(buffer) - start < HEADER_LENGTH:
                    break
                try:
                    self._need = check_header(buffer[start:start + HEADER_LENGTH], self._consumed + start,
                                              self.max_payload, self.accepted)
                except V2GTPError as exc:
                    self.error = exc
                    del buffer[:start]
                    self._consumed += start
                    raise
            payload_type, length = self._need
            end = start + HEADER_LENGTH + length
            if len(buffer) < end:
                break
            out.append(V2GTPMessage(payload_type, bytes(buffer[start + HEADER_LENGTH:end])))
            self._need = None
            start = end
        if start:
            del buffer[:start]
            self._consumed += start
        return out

    def close(self) -> None:
        """The connection ended: an incomplete message left over is a truncation."""
        if self.error is None and self._buffer:
            self.error = TruncatedMessage(f"stream ended with {len(self._buffer)} bytes of an incomplete message",
                                          self._consumed, bytes(self._buffer[:HEADER_LENGTH]))
            raise self.error
