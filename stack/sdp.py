"""SECC Discovery Protocol (ISO 15118-2 §7.10.1, DIN SPEC 70121 §8.7.4): how the car finds the charger's TCP port.

The EVCC multicasts an SECC Discovery Request (V2GTP payload type 0x9000; 2 bytes: security, transport) to
ff02::1 UDP 15118 [V2G2-139]; the SECC answers unicast with an SECC Discovery Response (0x9001; its IPv6 address,
TCP port, security, transport — big-endian [V2G2-156]). Codes [V2G2-623]: security 0x00 TLS / 0x10 no TLS,
transport 0x00 TCP / 0x10 UDP. The client retries after `SDP_REQ` (250 ms) [V2G2-159], at most
`SDP_MAX_REQUEST_COUNTER` (50) requests [V2G2-161].

Layouts are scapy layers bound to `V2GTP`; `SdpClient`/`SdpServer` are sans-IO machines using the struct fast path.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from enum import IntEnum

from scapy.fields import ByteEnumField, IP6Field, ShortField
from scapy.layers.inet import UDP
from scapy.packet import Packet, bind_layers

from stack import sansio as io
from stack import v2gtp
from stack.errors import MalformedInput, RemoteProtocolError
from stack.timers import SpecTimer

SDP_SERVER_PORT = 15118
SDP_MULTICAST_GROUP = "ff02::1"
SDP_TCP_PORT_RANGE = (49152, 65535)  # dynamic ports, as ISO 15118-2 asks and [Josev] sdp.py checks

SDP_REQ = SpecTimer("SDP_REQ", 0.25, "[V2G2-159]; [Josev] messages/timeouts.py Timeouts.SDP_REQ")
SDP_MAX_REQUEST_COUNTER = 50  # [V2G2-161]; [Josev] evcc/comm_session_handler.py


class Security(IntEnum):
    TLS = 0x00
    NO_TLS = 0x10


class Transport(IntEnum):
    TCP = 0x00
    UDP = 0x10


_SECURITY_NAMES = {0x00: "TLS", 0x10: "no TLS"}
_TRANSPORT_NAMES = {0x00: "TCP", 0x10: "UDP"}


# --------------------------------------------------------------------------- scapy layers


class SDPRequest(Packet):
    name = "SECC Discovery Request"
    fields_desc = [
        ByteEnumField("security", Security.NO_TLS, _SECURITY_NAMES),
        ByteEnumField("transport", Transport.TCP, _TRANSPORT_NAMES),
    ]


class SDPResponse(Packet):
    name = "SECC Discovery Response"
    fields_desc = [
        IP6Field("secc_ip", "::"),
        ShortField("secc_port", SDP_TCP_PORT_RANGE[0]),
        ByteEnumField("security", Security.NO_TLS, _SECURITY_NAMES),
        ByteEnumField("transport", Transport.TCP, _TRANSPORT_NAMES),
    ]


bind_layers(v2gtp.V2GTP, SDPRequest, payload_type=v2gtp.PayloadType.SDP_REQUEST)
bind_layers(v2gtp.V2GTP, SDPResponse, payload_type=v2gtp.PayloadType.SDP_RESPONSE)
bind_layers(UDP, v2gtp.V2GTP, dport=SDP_SERVER_PORT)
bind_layers(UDP, v2gtp.V2GTP, sport=SDP_SERVER_PORT)


# --------------------------------------------------------------------------- fast path


@dataclass(frozen=True)
class SdpRequest:
    security: int = Security.NO_TLS
    transport: int = Transport.TCP

    def to_bytes(self) -> bytes:
        return v2gtp.encode(v2gtp.PayloadType.SDP_REQUEST, bytes((self.security, self.transport)))

    def describe(self) -> dict[str, object]:
        return {"security": _SECURITY_NAMES.get(self.security, f"0x{self.security:02x}"),
                "transport": _TRANSPORT_NAMES.get(self.transport, f"0x{self.transport:02x}")}


@dataclass(frozen=True)
class SdpResponse:
    ip: str
    port: int
    security: int = Security.NO_TLS
    transport: int = Transport.TCP

    def to_bytes(self) -> bytes:
        payload = ipaddress.IPv6Address(self.ip).packed + struct.pack("!HBB", self.port, self.security,
                                                                        self.transport)
        return v2gtp.encode(v2gtp.PayloadType.SDP_RESPONSE, payload)

    def describe(self) -> dict[str, object]:
        return {"ip": self.ip, "port": self.port,
                "security": _SECURITY_NAMES.get(self.security, f"0x{self.security:02x}"),
                "transport": _TRANSPORT_NAMES.get(self.transport, f"0x{self.transport:02x}")}


_SDP_TYPES = frozenset({v2gtp.PayloadType.SDP_REQUEST, v2gtp.PayloadType.SDP_RESPONSE,
                        v2gtp.PayloadType.SDP_REQUEST_WIRELESS, v2gtp.PayloadType.SDP_RESPONSE_WIRELESS})


def decode(data: bytes) -> SdpRequest | SdpResponse:
    """Parse an SDP datagram; raises `MalformedInput` (a `V2GTPError` for header problems) naming the field."""
    message = v2gtp.decode(data, max_payload=64, accepted=_SDP_TYPES)
    payload = message.payload
    if message.payload_type == v2gtp.PayloadType.SDP_REQUEST:
        if len(payload) != 2:
            raise MalformedInput("SDP request", 8, f"payload is {len(payload)} bytes, expected 2")
        _check_codes("SDP request", 8, payload[0], payload[1])
        return SdpRequest(payload[0], payload[1])
    if message.payload_type == v2gtp.PayloadType.SDP_RESPONSE:
        if len(payload) != 20:
            raise MalformedInput("SDP response", 8, f"payload is {len(payload)} bytes, expected 20")
        _check_codes("SDP response", 8 + 18, payload[18], payload[19])
        ip = str(ipaddress.IPv6Address(payload[:16]))
        (port,) = struct.unpack_from("!H", payload, 16)
        return SdpResponse(ip, port, payload[18], payload[19])
    raise MalformedInput("SDP datagram", 2, f"wireless SDP (payload type 0x{message.payload_type:04x}) "
                         "is not supported")


def _check_codes(what: str, offset: int, security: int, transport: int) -> None:
    if security not in _SECURITY_NAMES:
        raise MalformedInput(what, offset, f"security 0x{security:02x} is neither 0x00 (TLS) nor 0x10 (no TLS)")
    if transport not in _TRANSPORT_NAMES:
        raise MalformedInput(what, offset + 1, f"transport 0x{transport:02x} is neither 0x00 (TCP) nor 0x10 (UDP)")


# --------------------------------------------------------------------------- machines


@dataclass
class SdpClient:
    """EVCC side: send requests until a usable response arrives or `max_requests` went unanswered.

    Outputs `Notify("sdp", "found", {ip, port, security, transport})` or `Notify("sdp", "failed", {reason})`.
    Unusable datagrams (malformed, a response for TLS we did not ask for) are reported with
    `Notify("sdp", "invalid", ...)` and otherwise ignored, as the spec says to keep waiting.
    """

    security: int = Security.NO_TLS
    transport: int = Transport.TCP
    timeout: SpecTimer = SDP_REQ
    max_requests: int = SDP_MAX_REQUEST_COUNTER
    tls_supported: bool = False
    result: SdpResponse | None = None
    failure: str | None = None
    requests_sent: int = 0
    last_invalid: str | None = None
    _deadline: float | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.result is not None or self.failure is not None

    def next_deadline(self) -> float | None:
        return self._deadline

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        if self.done:
            return []
        if isinstance(event, io.Start):
            return self._send(now)
        if isinstance(event, io.Tick) and self._deadline is not None and now >= self._deadline:
            if self.requests_sent >= self.max_requests:
                self._deadline = None
                usable = "usable " if self.last_invalid else ""
                self.failure = f"no {usable}SDP response after {self.requests_sent} requests ({self.timeout} each)"
                if self.last_invalid:
                    self.failure += f"; last one unusable: {self.last_invalid}"
                return [io.Notify("sdp", "failed", {"reason": self.failure, "requirement": "V2G2-161"})]
            return self._send(now)
        if isinstance(event, io.DatagramReceived):
            return self._receive(event, now)
        return []

    def _send(self, now: float) -> list[io.Output]:
        self.requests_sent += 1
        self._deadline = now + self.timeout.seconds
        data = SdpRequest(self.security, self.transport).to_bytes()
        return [io.SendDatagram(data, (SDP_MULTICAST_GROUP, SDP_SERVER_PORT))]

    def _receive(self, event: io.DatagramReceived, now: float) -> list[io.Output]:
        try:
            message = decode(event.data)
        except MalformedInput as exc:
            return [io.Notify("sdp", "invalid", {"error": str(exc), "from": event.src[0]})]
        if not isinstance(message, SdpResponse):
            return []  # another EV's request seen on the multicast group
        problem = self._unusable(message)
        if problem:
            self.last_invalid = problem
            return [io.Notify("sdp", "invalid", {"error": problem, "from": event.src[0], **message.describe()})]
        self.result, self._deadline = message, None
        return [io.Notify("sdp", "found", {**message.describe(), "requests": self.requests_sent})]

    def _unusable(self, response: SdpResponse) -> str | None:
        if response.transport != Transport.TCP:
            return "SECC offers UDP transport; V2G messages need TCP"
        if response.security == Security.TLS and not self.tls_supported:
            return "SECC offers only TLS, which this EVCC does not support"
        if response.port == 0:
            return "SECC announced TCP port 0"
        return None


@dataclass
class SdpServer:
    """SECC side: answer every SECC Discovery Request with our address and TCP port.

    Security choice: TLS only when the EV asks for it and we support it; otherwise (and always for DIN,
    [V2G-DC-618]) no TLS over TCP. A request for UDP transport is answered with TCP, the only transport V2G
    messages may use. `port` must be set (from `Listening`) before requests are answered; earlier ones are held.
    """

    ip: str = "fe80::1"
    port: int | None = None
    tls_supported: bool = False
    din_only: bool = False
    answered: int = 0
    _held: list[io.DatagramReceived] = field(default_factory=list, repr=False)

    def next_deadline(self) -> float | None:
        return None

    def bind(self) -> io.BindUdp:
        return io.BindUdp(SDP_SERVER_PORT, SDP_MULTICAST_GROUP)

    def set_port(self, port: int) -> list[io.Output]:
        self.port = port
        held, self._held = self._held, []
        out: list[io.Output] = []
        for event in held:
            out += self._answer(event)
        return out

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        if isinstance(event, io.Start):
            self.ip = event.ipv6
            return [self.bind()]
        if isinstance(event, io.Listening):
            return self.set_port(event.port)
        if isinstance(event, io.DatagramReceived):
            if self.port is None:
                self._held.append(event)
                return []
            return self._answer(event)
        return []

    def choose_security(self, request: SdpRequest) -> int:
        if request.security == Security.TLS and self.tls_supported and not self.din_only:
            return Security.TLS
        return Security.NO_TLS

    def _answer(self, event: io.DatagramReceived) -> list[io.Output]:
        try:
            request = decode(event.data)
        except MalformedInput as exc:
            error = RemoteProtocolError(f"unparseable SDP datagram from {event.src[0]}: {exc}")
            return [io.Notify("sdp", "invalid", {"error": str(error), "from": event.src[0]})]
        if not isinstance(request, SdpRequest):
            return []
        assert self.port is not None
        response = SdpResponse(self.ip, self.port, self.choose_security(request), Transport.TCP)
        self.answered += 1
        return [io.SendDatagram(response.to_bytes(), event.src, src_port=SDP_SERVER_PORT)]
