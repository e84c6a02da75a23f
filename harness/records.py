"""The one record format: test timelines, `ccs-hil … --json`, decoded captures and reports all speak it.

A stream is JSON Lines, one object per event. The first record is a `meta` record naming the stream's clock:

    {"t": 0.0, "layer": "meta", "name": "stream", "clock": "virtual", "epoch": 1764250000.0, "tool": "ccs-hil 0.1.0"}

`clock` is `virtual` (the sim rig: t jumps from deadline to deadline), `monotonic` (live runs: t counts from the
start of the stream) or `capture` (decoded captures: t is the frame's capture timestamp in epoch seconds, so epoch
is 0). For `virtual` and `monotonic`, `epoch` is the wall-clock time of t = 0.

Every record has `t` (float seconds on the stream's clock), `layer`, `name`, `src`, `dst` (MAC or IP address,
`"evse"`/`"pev"`/`"cp"` for in-process parties; may be null when there is none) and, where they apply:

| key      | meaning                                                                                     |
|----------|---------------------------------------------------------------------------------------------|
| `dir`    | `to_dut` / `from_dut` — seen from the harness; absent when neither side is the DUT            |
| `mmtype` | HomePlug MMTYPE as an integer (layer `homeplug`), so vendor messages stay identifiable        |
| `schema` | EXI schema of `body` (`apphand`, `din`, `iso2`, `iso20`, …), layer `exi`                      |
| `body`   | decoded content: EXI dict form (layer `exi`), MME fields, SDP fields, state-machine details   |
| `error`  | why something could not be decoded or went wrong; such records also carry `raw`               |
| `raw`    | lowercase hex of the bytes concerned                                                          |

Layers: `meta`, `cp` (pilot state/PWM changes and CP driver actions), `homeplug` (MMEs), `sdp`, `v2gtp` (V2GTP
framing other than EXI payloads, and framing errors), `exi` (one record per V2G message, carrying `schema` and
`body`), `tcp` (connection open/close), `state` (state-machine transitions and results), `power` (power stage
actions and measurements), `test` (what the test itself did or asserted). Later work may add keys or layers; it
must never change the meaning of these.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

LAYERS = ("meta", "cp", "homeplug", "sdp", "v2gtp", "exi", "tcp", "state", "power", "test")
CLOCKS = ("virtual", "monotonic", "capture")
DIRECTIONS = ("to_dut", "from_dut")
_OPTIONAL = ("dir", "mmtype", "schema", "body", "error", "raw")


class RecordFormatError(ValueError):
    """A record or stream that does not follow the format; names where (line number, key)."""


@dataclass
class Record:
    t: float
    layer: str
    name: str
    src: str | None = None
    dst: str | None = None
    dir: str | None = None
    mmtype: int | None = None
    schema: str | None = None
    body: Any = None
    error: str | None = None
    raw: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t, "layer": self.layer, "name": self.name, "src": self.src, "dst": self.dst}
        for key in _OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, obj: dict[str, Any], where: str = "record") -> Record:
        if not isinstance(obj, dict):
            raise RecordFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        for key in ("t", "layer", "name"):
            if key not in obj:
                raise RecordFormatError(f"{where}: missing key {key!r}")
        if not isinstance(obj["t"], (int, float)) or isinstance(obj["t"], bool):
            raise RecordFormatError(f"{where}: 't' must be a number, got {obj['t']!r}")
        if obj["layer"] not in LAYERS:
            raise RecordFormatError(f"{where}: unknown layer {obj['layer']!r} (known: {', '.join(LAYERS)})")
        if obj.get("dir") is not None and obj["dir"] not in DIRECTIONS:
            raise RecordFormatError(f"{where}: 'dir' must be one of {DIRECTIONS}, got {obj['dir']!r}")
        known = {"t", "layer", "name", "src", "dst", *_OPTIONAL}
        return cls(
            t=float(obj["t"]),
            layer=obj["layer"],
            name=str(obj["name"]),
            src=obj.get("src"),
            dst=obj.get("dst"),
            **{k: obj.get(k) for k in _OPTIONAL},
            extra={k: v for k, v in obj.items() if k not in known},
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_json_default)

    def summary(self) -> str:
        """One readable line, used by assertion messages and text output."""
        arrow = {"to_dut": "→DUT", "from_dut": "DUT→"}.get(self.dir or "", "")
        parts = [f"{self.t:10.4f}", f"{self.layer:8}", arrow.ljust(5), self.name]
        if self.error:
            parts.append(f"ERROR: {self.error}")
        return " ".join(parts)


def meta_record(clock: str, epoch: float | None = None, **info: Any) -> Record:
    """The record that opens every stream. `epoch` defaults to now for live clocks and 0 for captures."""
    if clock not in CLOCKS:
        raise RecordFormatError(f"unknown clock {clock!r} (known: {', '.join(CLOCKS)})")
    if epoch is None:
        epoch = 0.0 if clock == "capture" else time.time()
    from harness import __version__

    return Record(t=0.0, layer="meta", name="stream", extra={"clock": clock, "epoch": epoch,
                                                             "tool": f"ccs-hil {__version__}", **info})


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def write_jsonl(records: Iterable[Record], out: IO[str]) -> None:
    for record in records:
        out.write(record.to_json())
        out.write("\n")


def read_jsonl(path: str | Path) -> list[Record]:
    """Read a stream, checking it starts with a meta record; errors name the file and line."""
    records: list[Record] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RecordFormatError(f"{where}: not JSON ({exc.msg})") from None
            records.append(Record.from_dict(obj, where))
    if not records or records[0].layer != "meta":
        raise RecordFormatError(f"{path}: a stream must start with a meta record")
    return records


class Timeline:
    """The records of one test or run, in time order, with the queries assertions need."""

    def __init__(self, clock: str = "virtual", epoch: float | None = None, **info: Any) -> None:
        self.records: list[Record] = [meta_record(clock, epoch, **info)]
        self._listeners: list[Callable[[Record], None]] = []

    @property
    def meta(self) -> Record:
        return self.records[0]

    @property
    def clock(self) -> str:
        return self.meta.extra["clock"]

    def add(self, record: Record) -> Record:
        self.records.append(record)
        for listener in self._listeners:
            listener(record)
        return record

    def subscribe(self, listener: Callable[[Record], None]) -> None:
        """Call `listener` for every record added from now on (live `--json` output, progress lines)."""
        self._listeners.append(listener)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def events(self) -> list[Record]:
        """Every record but the meta record."""
        return self.records[1:]

    def select(self, name: str | None = None, layer: str | None = None, dir: str | None = None,
               where: Callable[[Record], bool] | None = None) -> list[Record]:
        return [r for r in self.records[1:]
                if (name is None or r.name == name) and (layer is None or r.layer == layer)
                and (dir is None or r.dir == dir) and (where is None or where(r))]

    def first(self, name: str, **kw: Any) -> Record | None:
        found = self.select(name, **kw)
        return found[0] if found else None

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            write_jsonl(self.records, handle)
        return path

    def render(self, start: int = 0, stop: int | None = None, mark: int | None = None) -> str:
        """Readable lines for records[start:stop], the one at index `mark` flagged with `>>`."""
        lines = []
        for index in range(max(start, 1), min(stop or len(self.records), len(self.records))):
            flag = ">>" if index == mark else "  "
            lines.append(f"{flag} #{index:<4} {self.records[index].summary()}")
        return "\n".join(lines)
