"""Readable lines for decoded records: time, direction, layer, name and the values that matter.

    18:34:02.469  +20.820  EV→all       homeplug  CM_SLAC_PARM.REQ             RunID=0465650064c30000
    18:34:09.446  +27.797  EV→EVSE      exi/din   SessionSetupReq              SessionID=00 EVCCID=0465650064c3

Times are UTC time of day (captures travel between time zones) and seconds since the first record. Directions
name the car (EV), the charger (EVSE), a PLC `modem` or `all` (broadcast/multicast), learnt from the protocol as
the lines go (`harness.capture.parties`); until a side is known its address is shown. `TextWriter` holds lines
back until both sides are known (or `hold` records passed), so a capture's first frames get names too.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import IO

from harness.capture.parties import Parties
from harness.describe.summary import summarize
from harness.records import Record

_RAW_SHOWN = 32  # bytes of raw hex shown on an error line


def time_of_day(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def format_record(record: Record, parties: Parties, start: float) -> str:
    layer = f"{record.layer}/{record.schema}" if record.schema else record.layer
    if record.layer == "tcp" and not record.error:
        route = f"[{record.src}]:{record.extra.get('sport')} → [{record.dst}]:{record.extra.get('dport')}"
        detail = f"{parties.arrow(record.src, record.dst)} {route}"
        return f"{time_of_day(record.t)}  {record.t - start:+9.3f}  {'':12} {layer:11} {record.name:28} {detail}"
    arrow = parties.arrow(record.src, record.dst) if (record.src or record.dst) else ""
    if record.error:
        raw = record.raw or ""
        shown = raw[:2 * _RAW_SHOWN] + ("…" if len(raw) > 2 * _RAW_SHOWN else "")
        detail = f"ERROR {record.error}" + (f"  raw={shown}" if shown else "")
    else:
        detail = summarize(record.to_dict())
    return f"{time_of_day(record.t)}  {record.t - start:+9.3f}  {arrow:12} {layer:11} {record.name:28} {detail}".rstrip()


class TextWriter:
    """Writes records as lines, learning the parties as it goes."""

    def __init__(self, out: IO[str], hold: int = 5000) -> None:
        self.out, self.hold = out, hold
        self.parties = Parties()
        self.start: float | None = None
        self._held: list[Record] = []

    def write(self, record: Record) -> None:
        if self.start is None:
            self.start = record.t
        self.parties.learn_record(record)
        if self._held is not None and not self.parties.complete() and len(self._held) < self.hold:
            self._held.append(record)
            return
        self.flush()
        self.out.write(format_record(record, self.parties, self.start) + "\n")

    def flush(self) -> None:
        held, self._held = self._held, []
        for record in held:
            self.out.write(format_record(record, self.parties, self.start or 0.0) + "\n")
