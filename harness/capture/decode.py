"""A capture as records: the same describers as the live timeline, on the `capture` clock.

`decode_capture(path)` yields one record per HomePlug frame, SDP datagram and V2G message (a V2GTP message that
carries EXI gives one `exi` record), `tcp` records for connection open/close, and a record with `error` and
`raw` for anything in our layers that does not decode. Frames of other protocols are counted in `stats.other`.

Addresses: `src`/`dst` are MAC addresses (homeplug) or IPv6 addresses (sdp, v2gtp, exi, tcp); IP records also
carry `sport`/`dport`, and stream records `conn` (the capture's TCP connection number, from 1).

`RecordMaker` turns wire events into records and is shared with `ccs-hil sniff`, which feeds it from a socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.capture.reader import (
    CaptureReader,
    CaptureStats,
    WireDatagram,
    WireError,
    WireEvent,
    WireFrame,
    WireStream,
    WireTcp,
)
from harness.describe import StreamDescriber, describe_datagram, describe_frame
from harness.records import Record, meta_record

_RECORD_KEYS = ("layer", "name", "src", "dst", "mmtype", "schema", "body", "error", "raw")
# wire-level error layers -> the record layer a reader looks in
_ERROR_LAYERS = {"ethernet": "homeplug", "ipv6": "tcp", "tcp": "tcp", "sdp": "sdp", "capture": "meta"}


def _record(t: float, fields: dict[str, Any]) -> Record:
    extra = {k: v for k, v in fields.items() if k not in _RECORD_KEYS}
    return Record(t=t, extra=extra, **{k: fields[k] for k in _RECORD_KEYS if k in fields})


@lru_cache(maxsize=512)
def _frame_fields(frame: bytes) -> tuple[tuple[str, Any], ...]:
    """HomePlug frames repeat (SLAC_PARM retries, sounds, modem polls): describe each distinct frame once."""
    return tuple(describe_frame(frame).items())


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class RecordMaker:
    """Wire events in, records out. One per capture or live sniff: it keeps a describer per TCP connection."""

    def __init__(self) -> None:
        self._describers: dict[int, StreamDescriber] = {}
        self._ends: dict[int, tuple[tuple[str, int], tuple[str, int]]] = {}
        self.last_schema: str | None = None  # negotiated on the latest connection: the first guess for the next

    def records(self, events: Iterable[WireEvent]) -> Iterator[Record]:
        for event in events:
            yield from self.feed(event)

    def feed(self, event: WireEvent) -> list[Record]:
        if isinstance(event, WireFrame):
            fields = {k: _copy(v) for k, v in _frame_fields(event.frame)}
            return [_record(event.t, fields)]
        if isinstance(event, WireDatagram):
            fields = describe_datagram(event.data, event.src, event.dst)
            fields.update(src=event.src[0], dst=event.dst[0], sport=event.src[1], dport=event.dst[1])
            return [_record(event.t, fields)]
        if isinstance(event, WireStream):
            return self._stream(event)
        if isinstance(event, WireTcp):
            return self._tcp(event)
        if isinstance(event, WireError):
            return [self._error(event)]
        return []

    def finish(self) -> list[Record]:
        """End of input: messages cut off in connections that never closed."""
        out: list[Record] = []
        for conn in list(self._describers):
            out += self._finish(conn, None)
        return out

    # ---------------------------------------------------------------- streams

    def _describer(self, conn: int) -> StreamDescriber:
        describer = self._describers.get(conn)
        if describer is None:
            describer = self._describers[conn] = StreamDescriber(resync=True, hint=self.last_schema)
        return describer

    def _addresses(self, src: tuple[str, int], dst: tuple[str, int], conn: int) -> dict[str, Any]:
        return {"src": src[0], "dst": dst[0], "sport": src[1], "dport": dst[1], "conn": conn}

    def _stream(self, event: WireStream) -> list[Record]:
        describer = self._describer(event.conn)
        self._ends[event.conn] = (event.src, event.dst) if event.from_client else (event.dst, event.src)
        where = self._addresses(event.src, event.dst, event.conn)
        out = []
        if event.gap:
            out += [_record(event.t, {**fields, **where}) for fields in describer.lost(event.from_client, event.gap)]
        for fields in describer.feed(event.data, outgoing=event.from_client):
            out.append(_record(event.t, {**fields, **where}))
        if describer.schema:
            self.last_schema = describer.schema
        return out

    def _tcp(self, event: WireTcp) -> list[Record]:
        """open/closed/reset, `src` = the side that sent the SYN, FIN or RST. A FIN ends that side's stream (a
        message it left incomplete is reported); a reset ends both."""
        out = []
        if event.event == "reset":
            out += self._finish(event.conn, event.t)
        elif event.event == "closed":
            out += self._finish(event.conn, event.t, event.by_client)
        self._ends[event.conn] = (event.client, event.server)
        sender, receiver = (event.client, event.server) if event.by_client else (event.server, event.client)
        out.append(_record(event.t, {"layer": "tcp", "name": event.event,
                                     **self._addresses(sender, receiver, event.conn)}))
        return out

    def _finish(self, conn: int, t: float | None, outgoing: bool | None = None) -> list[Record]:
        describer = self._describers.get(conn)
        if describer is None:
            return []
        if outgoing is None:
            del self._describers[conn]
        client, server = self._ends.get(conn, (("?", 0), ("?", 0)))
        out = []
        for fields in describer.finish(outgoing):
            outgoing = fields.pop("outgoing", True)
            src, dst = (client, server) if outgoing else (server, client)
            out.append(_record(t if t is not None else 0.0, {**fields, **self._addresses(src, dst, conn)}))
        return out

    # ---------------------------------------------------------------- errors

    def _error(self, event: WireError) -> Record:
        fields: dict[str, Any] = {"layer": _ERROR_LAYERS.get(event.layer, "tcp"), "error": event.error,
                                  "name": "capture damaged" if event.layer == "capture" else "?",
                                  "raw": event.raw.hex()}
        if event.src or event.dst:
            fields.update(src=event.src, dst=event.dst)
        elif event.layer in ("ethernet", "ipv6") and len(event.raw) >= 12:
            fields.update(src=":".join(f"{b:02x}" for b in event.raw[6:12]),
                          dst=":".join(f"{b:02x}" for b in event.raw[0:6]))
        return _record(event.t, fields)


class CaptureDecoder:
    """Iterate records of a capture; `stats` tells what else the capture held."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.reader = CaptureReader(self.path)
        self.maker = RecordMaker()

    @property
    def stats(self) -> CaptureStats:
        return self.reader.stats

    def meta(self) -> Record:
        return meta_record("capture", 0.0, source=str(self.path))

    def __iter__(self) -> Iterator[Record]:
        last_t = 0.0
        for record in self.maker.records(self.reader):
            last_t = max(last_t, record.t)
            yield record
        for record in self.maker.finish():
            record.t = last_t
            yield record


def decode_capture(path: str | Path) -> Iterator[Record]:
    decoder = CaptureDecoder(path)
    yield decoder.meta()
    yield from decoder
