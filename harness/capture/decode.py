"""A capture as records: the same describers as the live timeline, on the `capture` clock.

`decode_capture(path)` yields one record per HomePlug frame, SDP datagram and V2G message (a V2GTP message that
carries EXI gives one `exi` record), `tcp` records for connection open/close, and a record with `error` and
`raw` for anything in our layers that does not decode. Frames of other protocols are counted in `stats.other`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.capture.reader import (
    CaptureReader,
    WireDatagram,
    WireError,
    WireFrame,
    WireStream,
    WireTcp,
)
from harness.describe import StreamDescriber, describe_datagram, describe_frame
from harness.records import Record, meta_record

_RECORD_KEYS = ("layer", "name", "src", "dst", "mmtype", "schema", "body", "error", "raw")


def _record(t: float, fields: dict[str, Any]) -> Record:
    extra = {k: v for k, v in fields.items() if k not in _RECORD_KEYS}
    return Record(t=t, extra=extra, **{k: fields[k] for k in _RECORD_KEYS if k in fields})


def _addr(endpoint: tuple[str, int]) -> str:
    return f"[{endpoint[0]}]:{endpoint[1]}"


class CaptureDecoder:
    """Iterate records of a capture; `reader.stats` tells what else the capture held."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.reader = CaptureReader(self.path)

    def meta(self) -> Record:
        return meta_record("capture", 0.0, source=str(self.path))

    def __iter__(self) -> Iterator[Record]:
        describers: dict[int, StreamDescriber] = {}
        for event in self.reader:
            if isinstance(event, WireFrame):
                yield _record(event.t, describe_frame(event.frame))
            elif isinstance(event, WireDatagram):
                yield _record(event.t, describe_datagram(event.data, event.src, event.dst))
            elif isinstance(event, WireStream):
                describer = describers.setdefault(event.conn, StreamDescriber())
                if event.gap:
                    yield _record(event.t, {"layer": "v2gtp", "name": "?", "src": _addr(event.src),
                                            "dst": _addr(event.dst),
                                            "error": f"{event.gap} bytes of the TCP stream were never captured"})
                for fields in describer.feed(event.data, outgoing=event.from_client):
                    yield _record(event.t, {"src": _addr(event.src), "dst": _addr(event.dst), **fields})
            elif isinstance(event, WireTcp):
                describers.pop(event.conn, None) if event.event != "open" else None
                yield _record(event.t, {"layer": "tcp", "name": event.event, "src": _addr(event.client),
                                        "dst": _addr(event.server), "conn": event.conn})
            elif isinstance(event, WireError):
                fields = {"layer": event.layer if event.layer != "ethernet" else "homeplug", "name": "?",
                          "error": event.error}
                if event.raw:
                    fields["raw"] = event.raw.hex()
                if fields["layer"] not in ("homeplug", "sdp", "v2gtp", "exi", "tcp"):
                    fields["layer"] = "meta" if event.layer == "capture" else "v2gtp"
                yield _record(event.t, fields)


def decode_capture(path: str | Path) -> Iterator[Record]:
    decoder = CaptureDecoder(path)
    yield decoder.meta()
    yield from decoder
