"""The one I/O vocabulary every sans-IO machine in `stack/` speaks.

A machine (an `Endpoint`) is driven through a single entry point, `handle(input, now)`, and answers with a list of
outputs. Inputs are what the world did (a frame arrived, a TCP connection opened, the control pilot changed, a
timer fired); outputs are what the machine wants done (send a frame, open a connection, switch the CP load) plus
`Notify` events that say what happened inside (a state transition, a result). The harness owns sockets,
instruments and clocks and turns outputs into real or simulated I/O; `stack/` never touches them.

Why one vocabulary: the same machine must run in-process on a virtual clock (the `sim` rig), on veth pairs and on
real adaptors, and fault injection and the timeline recorder wrap any machine the same way.

Addresses: MAC addresses are `"aa:bb:cc:dd:ee:ff"` strings, IPv6 addresses are compressed strings
(`"fe80::1"`); the interface scope is the harness's business. Connection ids (`conn`) are small integers chosen by
whoever opens the connection (the machine for `OpenStream`, the harness for accepted connections).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Start:
    """First input a machine gets: who it is on the link. `ipv6` is its link-local address, `mac` its host MAC."""

    mac: str = "02:00:00:00:00:01"
    ipv6: str = "fe80::1"


@dataclass(frozen=True)
class Tick:
    """The deadline the machine announced through `next_deadline()` has been reached."""


@dataclass(frozen=True)
class FrameReceived:
    """A whole Ethernet frame (HomePlug MMEs, ethertype 0x88E1) arrived on the PLC interface."""

    frame: bytes


@dataclass(frozen=True)
class DatagramReceived:
    """A UDP datagram (SDP) arrived. `src`/`dst` are (ipv6, port)."""

    data: bytes
    src: tuple[str, int]
    dst: tuple[str, int]


@dataclass(frozen=True)
class StreamOpened:
    """A TCP connection is established (accepted by a listener, or our `OpenStream` succeeded)."""

    conn: int
    peer: tuple[str, int]
    local: tuple[str, int]


@dataclass(frozen=True)
class StreamData:
    """Bytes arrived on a TCP connection, split or coalesced arbitrarily."""

    conn: int
    data: bytes


@dataclass(frozen=True)
class StreamClosed:
    """The TCP connection ended (peer FIN/RST, or our own close completed). `error` says why when abnormal."""

    conn: int
    error: str | None = None


@dataclass(frozen=True)
class CpObserved:
    """What the control pilot looks like from this side: IEC 61851-1 state letter (A–F), PWM duty in percent
    (None when the oscillator is off, i.e. state X1) and the measured positive level in volts when known."""

    state: str
    duty: float | None = None
    volts: float | None = None


@dataclass(frozen=True)
class Command:
    """An instruction from the test or operator to the machine (e.g. `stop_charging`, `emergency_stop`,
    `unplug`). Machines ignore commands they do not know, returning a `Notify` that says so."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)



# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class SendFrame:
    """Send a whole Ethernet frame on the PLC interface (the machine builds the Ethernet header)."""

    frame: bytes


@dataclass(frozen=True)
class SendDatagram:
    """Send a UDP datagram to (ipv6, port); `src_port` None lets the harness pick an ephemeral port."""

    data: bytes
    dst: tuple[str, int]
    src_port: int | None = None


@dataclass(frozen=True)
class BindUdp:
    """Receive UDP datagrams sent to this port on our address (and to `multicast`, e.g. "ff02::1", when given)."""

    port: int
    multicast: str | None = None


@dataclass(frozen=True)
class Listen:
    """Accept TCP connections on this port of our link-local address (0 = pick a free dynamic port; the harness
    answers with `Listening`)."""

    port: int


@dataclass(frozen=True)
class Listening:
    """Input: the listener is up on `port` (the actual port when 0 was asked)."""

    port: int


@dataclass(frozen=True)
class OpenStream:
    """Open a TCP connection to (ipv6, port); the harness answers `StreamOpened(conn)` or `StreamClosed(conn, error)`."""

    conn: int
    dst: tuple[str, int]


@dataclass(frozen=True)
class SendStream:
    data: bytes
    conn: int


@dataclass(frozen=True)
class CloseStream:
    conn: int


@dataclass(frozen=True)
class StopListening:
    port: int


@dataclass(frozen=True)
class SetCpOscillator:
    """EVSE side: drive the CP. `duty` None = steady +12 V (X1); a number = 1 kHz PWM with that duty in percent.
    `state` lets the EVSE force E or F (error / not available) instead."""

    duty: float | None
    state: str | None = None


@dataclass(frozen=True)
class SetCpLoad:
    """PEV side: switch the vehicle's CP load so the pilot shows this state (B = 2.74 kΩ, C = + 1.3 kΩ, D = + 270 Ω,
    A = disconnected)."""

    state: str


@dataclass(frozen=True)
class Notify:
    """Something happened inside the machine that belongs on the timeline (layer `state`, or a result)."""

    layer: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)


Input = (
    Start | Tick | FrameReceived | DatagramReceived | StreamOpened | StreamData | StreamClosed | CpObserved | Command
    | Listening
)

Output = (
    SendFrame | SendDatagram | BindUdp | Listen | OpenStream | SendStream | CloseStream | StopListening
    | SetCpOscillator | SetCpLoad | Notify
)


class Endpoint(Protocol):
    """A sans-IO machine. `handle` must not block and must not read a clock: `now` is the only time it knows."""

    def handle(self, event: Input, now: float) -> list[Output]: ...

    def next_deadline(self) -> float | None: ...
