"""Declarative fault injection at the message boundary, for either role.

A `Fault` says *when* (a message name such as `CableCheckRes`, a glob such as `*Res`, `SDP.RES`/`SDP.REQ` for
discovery datagrams, or `state:PreCharge` for whatever the machine sends while in that state; `where` adds field
conditions such as `{"ResponseCode": "FAILED_SequenceError"}`), *what* (`action`) and *how much* (`value`):

| action           | value                                   | effect                                          |
|------------------|-----------------------------------------|-------------------------------------------------|
| `delay`          | seconds                                 | hold the message (later ones queue behind it)   |
| `drop`           | —                                       | never send it                                   |
| `duplicate`      | copies (default 2)                      | send it more than once                          |
| `response_code`  | code, e.g. `"FAILED"`                   | replace ResponseCode                            |
| `set_field`      | `{path: value, ...}`                    | set fields (`Header.SessionID`, `DC_EVSEStatus.EVSEStatusCode`, `EVSEPresentVoltage.Value`, SDP `port`) |
| `out_of_sequence`| message name, e.g. `"PreChargeReq"`     | send that message (template body) instead       |
| `close`          | —                                       | close the TCP connection instead of sending     |
| `silence`        | —                                       | send nothing from now on (connection stays open)|

`nth` picks the first matching occurrence to hit (1 = first), `times` how many (None = every one from `nth` on).

`FaultInjector(inner, faults)` wraps a session machine (`SeccSession`/`EvccSession`) with the same interface, so
the composite roles put it between the machine and the codec; `filter_datagram` does the same for SDP.
`FAULT_SETS` (in `stack.sessions.fault_sets`) holds the named sets the catalogue selects with `--dut-fault NAME`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stack import sansio as io
from stack.sessions.events import CloseConnection, SendMessage
from stack.sessions.messages import get_path, name_of, set_path
from stack.sessions.templates import body as template_body

ACTIONS = ("delay", "drop", "duplicate", "response_code", "set_field", "out_of_sequence", "close", "silence")


@dataclass(frozen=True)
class Fault:
    when: str
    action: str
    value: Any = None
    where: Mapping[str, Any] = field(default_factory=dict)
    nth: int = 1
    times: int | None = 1
    schema: str | None = None  # only for messages of this schema ("din", "iso2", "apphand", "sdp")

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"fault action {self.action!r}: choose one of {', '.join(ACTIONS)}")
        if self.action == "delay" and not isinstance(self.value, (int, float)):
            raise ValueError("a delay fault needs value=<seconds>")
        if self.action in ("response_code", "out_of_sequence") and not isinstance(self.value, str):
            raise ValueError(f"a {self.action} fault needs value=<name>")
        if self.action == "set_field" and not isinstance(self.value, Mapping):
            raise ValueError("a set_field fault needs value={path: value}")
        if self.nth < 1:
            raise ValueError("nth counts from 1")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Fault:
        return cls(**dict(values))

    def matches(self, name: str, message: Mapping[str, Any] | None, state: str, schema: str) -> bool:
        if self.schema is not None and self.schema != schema:
            return False
        if self.when.startswith("state:"):
            wanted = self.when[6:]
            if not (state == wanted or state.startswith(wanted + ".")):
                return False
        elif not fnmatch.fnmatchcase(name, self.when):
            return False
        return all(get_path(message or {}, path) == value for path, value in self.where.items())


@dataclass(frozen=True)
class FaultSet:
    """A named fault for `--dut-fault NAME`: which role it is for and which rule it makes the DUT break."""

    name: str
    role: str  # "evse" | "pev": the role the faulty DUT plays
    faults: tuple[Fault, ...]
    requirement: str
    description: str
    config: Mapping[str, Any] = field(default_factory=dict)  # behaviour changes: overrides of the DUT's config

    def configure(self, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """`base` (an EvseConfig/PevConfig dict) with this set's overrides merged in, nested dicts included."""
        return _merge(dict(base or {}), self.config)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


class _Tracker:
    """Counts matches per fault and says whether this one is hit."""

    def __init__(self, faults: Iterable[Fault]) -> None:
        self.faults = list(faults)
        self.seen = [0] * len(self.faults)

    def hits(self, name: str, message: Mapping[str, Any] | None, state: str, schema: str) -> list[Fault]:
        out = []
        for index, fault in enumerate(self.faults):
            if not fault.matches(name, message, state, schema):
                continue
            self.seen[index] += 1
            count = self.seen[index]
            if count >= fault.nth and (fault.times is None or count < fault.nth + fault.times):
                out.append(fault)
        return out


class FaultInjector:
    """Wraps a message-level session machine; applies `faults` to what it sends (see module docstring)."""

    def __init__(self, inner: Any, faults: Iterable[Fault]) -> None:
        self.inner = inner
        self._tracker = _Tracker(faults)
        self._held: list[tuple[float, Any]] = []  # (release time, output), in order
        self.silenced = False
        self.fired: list[tuple[str, str]] = []  # (message, action) for reports and tests

    def __getattr__(self, name: str) -> Any:  # state, schema, result, done ... of the wrapped machine
        return getattr(self.inner, name)

    def next_deadline(self) -> float | None:
        times = [t for t, _ in self._held[:1]]
        inner = self.inner.next_deadline()
        if inner is not None:
            times.append(inner)
        return min(times) if times else None

    def handle(self, event: Any, now: float) -> list[Any]:
        out: list[Any] = []
        if isinstance(event, io.Tick):
            out += self._release(now)
            deadline = self.inner.next_deadline()
            if deadline is None or deadline > now:
                return out
        state_before = getattr(self.inner, "state", "")
        return out + self._filter(self.inner.handle(event, now), state_before, now)

    def _release(self, now: float) -> list[Any]:
        out = []
        while self._held and self._held[0][0] <= now:
            out.append(self._held.pop(0)[1])
        return out

    def _filter(self, outputs: list[Any], state: str, now: float) -> list[Any]:
        out: list[Any] = []
        for item in outputs:
            if self.silenced and isinstance(item, (SendMessage, CloseConnection)):
                continue
            if not isinstance(item, SendMessage):
                self._emit(out, item, now)
                continue
            name = name_of(item.message)
            emitted: list[Any] = [item]
            for fault in self._tracker.hits(name, item.message, state, item.schema):
                self.fired.append((name, fault.action))
                out.append(io.Notify("state", "fault", {"message": name, "action": fault.action,
                                                        "value": fault.value}))
                emitted = self._apply(fault, emitted, item, now)
            for thing in emitted:
                if isinstance(thing, tuple):  # delayed
                    self._held.append(thing)
                else:
                    self._emit(out, thing, now)
        return out

    def _emit(self, out: list[Any], item: Any, now: float) -> None:
        if self._held and isinstance(item, (SendMessage, CloseConnection)):
            self._held.append((self._held[-1][0], item))  # keep TCP order behind a delayed message
        else:
            out.append(item)

    def _apply(self, fault: Fault, emitted: list[Any], original: SendMessage, now: float) -> list[Any]:
        action = fault.action
        if action == "drop":
            return []
        if action == "silence":
            self.silenced = True
            return []
        if action == "close":
            return [CloseConnection(f"fault injected: close instead of {name_of(original.message)}")]
        if action == "delay":
            return [(now + float(fault.value), e) if isinstance(e, SendMessage) else e for e in emitted]
        if action == "duplicate":
            copies = int(fault.value or 2)
            return [e for e in emitted for _ in range(copies if isinstance(e, SendMessage) else 1)]
        changed = []
        for e in emitted:
            if not isinstance(e, SendMessage):
                changed.append(e)
                continue
            message = e.message
            if action == "response_code":
                path = "ResponseCode" if "V2G_Message" in message else f"{name_of(message)}.ResponseCode"
                message = set_path(message, path, fault.value)
            elif action == "set_field":
                for path, value in fault.value.items():
                    message = set_path(message, path, value)
            elif action == "out_of_sequence":
                name = str(fault.value)
                header = message["V2G_Message"]["Header"]
                message = {"V2G_Message": {"Header": dict(header),
                                           "Body": {name: template_body(e.schema, name)}}}
            changed.append(SendMessage(message, e.schema))
        return changed

    # ------------------------------------------------------------------ SDP

    def filter_datagram(self, name: str, fields: dict[str, Any], now: float) -> tuple[list[dict[str, Any]], float]:
        """Apply SDP faults (`SDP.REQ`/`SDP.RES`) to a datagram's fields; returns (copies to send, delay)."""
        if self.silenced:
            return [], 0.0
        copies, delay = [dict(fields)], 0.0
        for fault in self._tracker.hits(name, fields, "SDP", "sdp"):
            self.fired.append((name, fault.action))
            if fault.action in ("drop", "close"):
                copies = []
            elif fault.action == "silence":
                self.silenced, copies = True, []
            elif fault.action == "delay":
                delay += float(fault.value)
            elif fault.action == "duplicate":
                copies = copies * int(fault.value or 2)
            elif fault.action == "set_field":
                copies = [{**c, **fault.value} for c in copies]
        return copies, delay


def __getattr__(name: str) -> Any:
    """`FAULT_SETS` lives in `stack.sessions.fault_sets` (data, built from the classes above); kept importable from
    here for the code that has always imported it from this module."""
    if name == "FAULT_SETS":
        from stack.sessions.fault_sets import FAULT_SETS

        return FAULT_SETS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fault_set(name: str) -> FaultSet:
    from stack.sessions.fault_sets import fault_set as lookup

    return lookup(name)
