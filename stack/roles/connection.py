"""One TCP connection of a composite role: V2GTP framing and the EXI codec around a message-level session machine.

Incoming bytes go through `V2GTPStream` (split/coalesced segments), each EXI payload is decoded with the schema
the session currently expects (`apphand` until the handshake, then `din`/`iso2`), and handed over as
`MessageReceived`; a framing or decoding error becomes `Undecodable`. Outgoing `SendMessage`s are encoded and
framed into `SendStream`; `CloseConnection` becomes one `CloseStream`.
"""

from __future__ import annotations

from typing import Any, Protocol

from stack import sansio as io
from stack import v2gtp
from stack.sessions.events import (
    CloseConnection,
    ConnectionLost,
    MessageReceived,
    SendMessage,
    Undecodable,
)


class Codec(Protocol):
    def encode(self, schema: str, message: dict[str, Any]) -> bytes: ...

    def decode(self, schema: str, data: bytes) -> dict[str, Any]: ...


def default_codec() -> Codec:
    from stack import exi

    return exi  # the module has encode(schema, dict) and decode(schema, bytes)


class V2GConnection:
    """Bytes <-> message dicts for one connection; `session` is a message-level machine (maybe fault-wrapped)."""

    def __init__(self, conn: int, session: Any, codec: Codec) -> None:
        self.conn, self.session, self.codec = conn, session, codec
        self.stream = v2gtp.V2GTPStream()
        self.closing = False
        self.closed = False

    def next_deadline(self) -> float | None:
        return None if self.closed else self.session.next_deadline()

    def handle(self, event: Any, now: float) -> list[io.Output]:
        if self.closed:
            return []
        if isinstance(event, ConnectionLost):
            self.closed = True
        return self._translate(self.session.handle(event, now), now)

    def feed(self, data: bytes, now: float) -> list[io.Output]:
        if self.closed or self.closing:
            return []
        try:
            messages = self.stream.feed(data)
        except v2gtp.V2GTPError as exc:
            return self.handle(Undecodable(str(exc), bytes(exc.header)), now)
        out: list[io.Output] = []
        for message in messages:
            if self.closed or self.closing:
                break
            if message.payload_type != v2gtp.PayloadType.EXI:
                event: Any = Undecodable(f"V2GTP payload type 0x{message.payload_type:04x} is not used by "
                                         f"{self.session.schema}", message.payload)
            else:
                try:
                    event = MessageReceived(self.codec.decode(self.session.schema, message.payload),
                                            self.session.schema)
                except Exception as exc:  # noqa: BLE001 - any codec failure is the peer's undecodable message
                    event = Undecodable(f"{self.session.schema} EXI: {exc}", message.payload)
            out += self.handle(event, now)
        return out

    def _translate(self, outputs: list[Any], now: float) -> list[io.Output]:
        out: list[io.Output] = []
        for item in outputs:
            if isinstance(item, SendMessage):
                if self.closing or self.closed:
                    continue
                try:
                    payload = self.codec.encode(item.schema, item.message)
                except Exception as exc:  # noqa: BLE001 - our own message does not encode: say so, close
                    out.append(io.Notify("state", "local_error", {"error": f"cannot encode {item.schema} "
                                                                           f"message: {exc}"}))
                    out += self._close(now)
                    continue
                out.append(io.SendStream(v2gtp.encode_exi(payload), self.conn))
            elif isinstance(item, CloseConnection):
                out += self._close(now)
            else:
                out.append(item)
        return out

    def _close(self, now: float) -> list[io.Output]:
        if self.closing or self.closed:
            return []
        self.closing = True
        return [io.CloseStream(self.conn)]
