"""The message-level vocabulary of a V2G session machine (one TCP connection, either role).

Below this boundary the composite role (`stack.roles`) turns bytes into message dicts (V2GTP + EXI) and back;
above it the session machines (`SeccSession`, `EvccSession`) only ever see dicts. Fault injection
(`stack.sessions.faults.FaultInjector`) wraps a session machine at exactly this boundary, so a fault can change a
field, delay, drop or duplicate a message, or close the connection, identically for both roles.

Inputs are `ConnectionUp`, `MessageReceived`, `Undecodable`, `ConnectionLost` plus the generic `Tick`,
`Command`, `CpObserved`; outputs are `SendMessage`, `CloseConnection` plus `Notify`, `SetCpLoad`,
`SetCpOscillator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectionUp:
    """The TCP connection is established (the EVCC then sends supportedAppProtocolReq)."""


@dataclass(frozen=True)
class MessageReceived:
    message: dict[str, Any]
    schema: str


@dataclass(frozen=True)
class Undecodable:
    """A V2GTP payload the codec could not decode (or a V2GTP framing error); `raw` is the payload."""

    error: str
    raw: bytes = b""


@dataclass(frozen=True)
class ConnectionLost:
    error: str | None = None


@dataclass(frozen=True)
class SendMessage:
    message: dict[str, Any]
    schema: str


@dataclass(frozen=True)
class CloseConnection:
    reason: str
