"""Reading a V2G timeline the way catalogue tests need it: messages by side, request/response exchanges with their
spec timer, bodies, physical values, pilot states.

Everything here reads records that any rig produces (the wire as the tester sees it, and the tester's own `state`
records); nothing reads the simulated DUT's internal records (`party: "dut"`), which a real DUT does not have.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.assertions import Step, step
from harness.records import Record, Timeline
from stack.sessions import din70121, iso15118_2
from stack.sessions.messages import get_path, pv_value
from stack.sessions.sequence import SequenceTable
from stack.timers import SpecTimer

TABLES: dict[str, SequenceTable] = {"din": din70121.TABLE, "iso2": iso15118_2.TABLE}
PROTOCOL_SCHEMA = {"din": "din", "iso2-dc": "iso2", "iso2-ac": "iso2"}
Point = str | Step | Callable[[Record], bool]


def as_step(point: Point) -> Step | Callable[[Record], bool]:
    """A message name ("CableCheckRes", "supportedAppProtocolReq"), "layer:name" ("tcp:closed", "state:session_end"),
    a `harness.assertions.Step`, or a predicate over records."""
    if callable(point) and not isinstance(point, Step):
        return point
    if isinstance(point, Step):
        return point
    if ":" in point:
        return step(point)
    return Step(name=point, layer="exi")


def matches(point: Step | Callable[[Record], bool], record: Record) -> bool:
    return point.matches(record) if isinstance(point, Step) else bool(point(record))


def label(point: Point) -> str:
    if isinstance(point, str):
        return point
    if isinstance(point, Step):
        return point.label()
    return getattr(point, "__name__", "condition")


def body(record: Record) -> dict[str, Any]:
    """The message body of an `exi` record: `V2G_Message.Body.<name>`, or the handshake message itself."""
    doc = record.body if isinstance(record.body, dict) else {}
    if "V2G_Message" in doc:
        inner = doc["V2G_Message"].get("Body", {})
        return inner.get(record.name, next(iter(inner.values()), {})) if isinstance(inner, dict) else {}
    return doc.get(record.name, {}) if isinstance(doc.get(record.name), dict) else {}


def session_id(record: Record) -> str | None:
    doc = record.body if isinstance(record.body, dict) else {}
    sid = doc.get("V2G_Message", {}).get("Header", {}).get("SessionID")
    return str(sid).lower() if sid is not None else None


def field(record: Record, path: str, default: Any = None) -> Any:
    """A field of the message body by dotted path (`DC_EVSEStatus.EVSENotification`)."""
    return get_path(body(record), path, default)


def physical(record: Record, path: str) -> float:
    """A PhysicalValue field as a float (NaN when absent): `physical(res, "EVSEPresentVoltage")`."""
    return pv_value(get_path(body(record), path), math.nan)


def code(record: Record) -> str | None:
    value = body(record).get("ResponseCode")
    return None if value is None else str(value)


def pair_of(name: str) -> str:
    return "SupportedAppProtocol" if name.startswith("supportedAppProtocol") else name[:-3]


@dataclass(frozen=True)
class Exchange:
    """One request and the response that answered it (None when none came)."""

    request: Record
    response: Record | None
    index: int  # timeline index of the request
    response_index: int | None

    @property
    def pair(self) -> str:
        return pair_of(self.request.name)

    @property
    def elapsed(self) -> float | None:
        return None if self.response is None else self.response.t - self.request.t


def exchanges(timeline: Timeline, after: int = 0) -> list[Exchange]:
    out: list[Exchange] = []
    open_request: tuple[int, Record] | None = None
    for index, record in enumerate(timeline.records):
        if index < after or record.layer != "exi":
            continue
        if record.name.endswith("Req"):
            if open_request is not None:
                out.append(Exchange(open_request[1], None, open_request[0], None))
            open_request = (index, record)
        elif record.name.endswith("Res") and open_request is not None:
            out.append(Exchange(open_request[1], record, open_request[0], index))
            open_request = None
    if open_request is not None:
        out.append(Exchange(open_request[1], None, open_request[0], None))
    return out


def timeout_of(pair: str, table: SequenceTable) -> SpecTimer:
    """V2G_EVCC_Msg_Timeout of `pair` ("CableCheck", "SupportedAppProtocol") in `table`'s standard."""
    if pair == "SupportedAppProtocol":
        return table.handshake.timeout
    return table.timeout(pair)
