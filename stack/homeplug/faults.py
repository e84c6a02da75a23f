"""Declarative faults for a SLAC machine (ISO 15118-3), in either role: the SLAC counterpart of
`stack.sessions.faults`.

A `SlacFault` says *when* — a management message the machine sends (`"CM_SLAC_PARM.CNF"`, globs allowed), one it
receives (`"in:CM_SLAC_PARM.REQ"`), an oscillator setting it makes (`"cp:oscillator"`) or a pilot change it sees
(`"cp:observed"`, or `"cp:observed:[EF]"` for some states) — optionally only while the machine is in `state` — and *what*:

| action      | value                          | effect                                                          |
|-------------|--------------------------------|-----------------------------------------------------------------|
| `drop`      | —                              | never send it / never hand it to the machine                    |
| `delay`     | seconds                        | send it / hand it in that much later                            |
| `duplicate` | copies (default 2)             | send it more than once at the same instant                      |
| `set_field` | `{path: value}`                | set body fields (`RunID`, `VariableField.NMK`, `Groups`, `duty`) |
| `truncate`  | bytes to keep (default 22)     | cut the frame (a malformed MME)                                 |
| `abort`     | —                              | (received) the machine gives up its session instead (`slac_leave`) |

A received HomePlug frame that does not parse is the point `"in:malformed"` (the machines ignore those; a faulty
one may `abort`).

`set_field` values: bytes fields take hex strings, `Groups` a list of dB values; `SESSION_RUN_ID` stands for the
machine's own current RunID (a car or charger that does not check RunIDs, staged by rewriting what it receives);
`RANDOM` for fresh random bytes of the field's length. `nth` picks the first matching occurrence to hit, `times`
how many (None = every one from `nth` on).

`SlacFaultInjector(machine, faults)` wraps `EvseSlac`/`PevSlac` with the same interface (`handle`,
`next_deadline`, and every attribute of the machine: `done`, `matched`, `result`, `state`, ...), so a composite
role (`stack.roles`) holds it in place of the machine. It is how the catalogue stages a misbehaving tester and how
the sim rig makes its SLAC DUT faulty (`harness.sim.slac_faults`).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scapy.contrib.homepluggp import HPGP_GROUP
from scapy.fields import FieldLenField, StrFixedLenField

from stack import sansio as io
from stack.errors import MalformedInput
from stack.homeplug import frames as f

ACTIONS = ("drop", "delay", "duplicate", "set_field", "truncate", "abort")
SESSION_RUN_ID = "<session RunID>"
RANDOM = "<random>"


@dataclass(frozen=True)
class SlacFault:
    when: str
    action: str
    value: Any = None
    nth: int = 1
    times: int | None = 1
    state: str | None = None  # only while the wrapped machine is in this state

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"SLAC fault action {self.action!r}: choose one of {', '.join(ACTIONS)}")
        if self.action == "delay" and not isinstance(self.value, (int, float)):
            raise ValueError("a delay fault needs value=<seconds>")
        if self.action == "set_field" and not isinstance(self.value, Mapping):
            raise ValueError("a set_field fault needs value={path: value}")
        if self.nth < 1:
            raise ValueError("nth counts from 1")
        if self.when.startswith("cp:") and not (self.when == "cp:oscillator" or self.when.startswith("cp:observed")):
            raise ValueError(f"SLAC fault on {self.when!r}: the pilot points are cp:oscillator and "
                             "cp:observed[:<state glob>]")

    @property
    def incoming(self) -> bool:
        return self.when.startswith("in:") or self.when.startswith("cp:observed")

    @property
    def pattern(self) -> str:
        if self.when.startswith("in:"):
            return self.when[3:]
        return "cp:observed:*" if self.when == "cp:observed" else self.when


class SlacFaultInjector:
    """A SLAC machine with faults on what it sends and receives (see the module docstring)."""

    def __init__(self, machine: Any, faults: list[SlacFault] | tuple[SlacFault, ...]) -> None:
        self.machine = machine
        self.faults = list(faults)
        self._seen = [0] * len(self.faults)
        self._later: list[tuple[float, int, str, Any]] = []  # (time, seq, "out" | "in", item)
        self._seq = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["machine"], name)

    # ---------------------------------------------------------------- Endpoint

    def next_deadline(self) -> float | None:
        times = [t for t, *_ in self._later[:1]]
        inner = self.machine.next_deadline()
        if inner is not None:
            times.append(inner)
        return min(times) if times else None

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        out: list[io.Output] = []
        while self._later and self._later[0][0] <= now:
            _, _, kind, item = self._later.pop(0)
            out += [item] if kind == "out" else self._outputs(self.machine.handle(item, now), now)
        if isinstance(event, io.Tick) and not self._machine_due(now):
            return out
        for item in self._inputs(event, now):
            out += self._outputs(self.machine.handle(item, now), now)
        return out

    def _machine_due(self, now: float) -> bool:
        deadline = self.machine.next_deadline()
        return deadline is not None and deadline <= now

    # ---------------------------------------------------------------- matching

    def _hits(self, point: str, incoming: bool) -> list[SlacFault]:
        state = getattr(self.machine, "state", None)
        out = []
        for index, fault in enumerate(self.faults):
            if fault.incoming != incoming:
                continue
            if not fnmatch.fnmatchcase(point, fault.pattern) or (fault.state is not None and fault.state != state):
                continue
            self._seen[index] += 1
            count = self._seen[index]
            if count >= fault.nth and (fault.times is None or count < fault.nth + fault.times):
                out.append(fault)
        return out

    def _later_add(self, at: float, kind: str, item: Any) -> None:
        self._seq += 1
        self._later.append((at, self._seq, kind, item))
        self._later.sort(key=lambda x: (x[0], x[1]))

    # ---------------------------------------------------------------- what goes in

    def _inputs(self, event: io.Input, now: float) -> list[io.Input]:
        if isinstance(event, io.FrameReceived):
            mme = f.try_parse(event.frame)
            homeplug = event.frame[12:14] == f.ETHERTYPE_HOMEPLUG.to_bytes(2, "big")
            if mme is None and not homeplug:
                return [event]
            hits = self._hits(mme.name if mme is not None else "malformed", incoming=True)
            frame = event.frame
            for fault in hits:
                if fault.action == "abort":
                    return [event, io.Command("slac_leave", {"reason": f"fault: gave up on {fault.when}"})]
                if fault.action == "drop":
                    return []
                if fault.action == "delay":
                    self._later_add(now + float(fault.value), "in", io.FrameReceived(frame))
                    return []
                if fault.action == "set_field":
                    frame = self._rewrite(frame, fault.value)
                elif fault.action == "truncate":
                    frame = frame[: int(fault.value or 22)]
            return [io.FrameReceived(frame)]
        if isinstance(event, io.CpObserved):
            for fault in self._hits(f"cp:observed:{event.state}", incoming=True):
                if fault.action == "drop":
                    return []
                if fault.action == "delay":
                    self._later_add(now + float(fault.value), "in", event)
                    return []
        return [event]

    # ---------------------------------------------------------------- what comes out

    def _outputs(self, outputs: list[io.Output], now: float) -> list[io.Output]:
        out: list[io.Output] = []
        for item in outputs:
            if isinstance(item, io.SendFrame):
                out += self._frame_out(item, now)
            elif isinstance(item, io.SetCpOscillator):
                out += self._oscillator_out(item, now)
            else:
                out.append(item)
        return out

    def _frame_out(self, item: io.SendFrame, now: float) -> list[io.Output]:
        mme = f.try_parse(item.frame)
        if mme is None:
            return [item]
        frame, copies, delay = item.frame, 1, 0.0
        for fault in self._hits(mme.name, incoming=False):
            if fault.action == "drop":
                return [io.Notify("state", "fault", {"layer": "homeplug", "message": mme.name, "action": "drop"})]
            if fault.action == "delay":
                delay += float(fault.value)
            elif fault.action == "duplicate":
                copies = int(fault.value or 2)
            elif fault.action == "set_field":
                frame = self._rewrite(frame, fault.value)
            elif fault.action == "truncate":
                frame = frame[: int(fault.value or 22)]
        sends = [io.SendFrame(frame) for _ in range(copies)]
        if delay > 0:
            for send in sends:
                self._later_add(now + delay, "out", send)
            return []
        return list(sends)

    def _oscillator_out(self, item: io.SetCpOscillator, now: float) -> list[io.Output]:
        duty, state = item.duty, item.state
        for fault in self._hits("cp:oscillator", incoming=False):
            if fault.action == "drop":
                return []
            if fault.action == "delay":
                self._later_add(now + float(fault.value), "out", io.SetCpOscillator(duty, state=state))
                return []
            if fault.action == "set_field":
                if duty is not None:  # a PWM setting: X1 (None) and E/F stay what they are
                    duty = fault.value.get("duty", duty)
                state = fault.value.get("state", state)
        return [io.SetCpOscillator(duty, state=state)]

    # ---------------------------------------------------------------- field rewriting

    def _rewrite(self, frame: bytes, values: Mapping[str, Any]) -> bytes:
        try:
            mme = f.parse_frame(frame)
        except MalformedInput:
            return frame
        for path, value in values.items():
            *parents, name = path.split(".")
            layer = mme.body
            for parent in parents:
                layer = layer.getfieldval(parent)
            _set(layer, name, self._value(layer, name, value))
        mme.padding = b""
        return f.build_frame(mme)

    def _value(self, layer: Any, name: str, value: Any) -> Any:
        if value == SESSION_RUN_ID:
            return bytes(getattr(self.machine, "run_id", b"") or b"\x00" * 8)
        field = layer.get_field(name)
        if value == RANDOM:
            current = layer.getfieldval(name)
            return os.urandom(len(current) if isinstance(current, (bytes, bytearray)) and current else 8)
        if name == "Groups":
            return [HPGP_GROUP(group=max(0, min(255, int(v)))) for v in value]
        if isinstance(field, StrFixedLenField) and isinstance(value, str):
            return bytes.fromhex(value)
        return value


def _set(layer: Any, name: str, value: Any) -> None:
    layer.setfieldval(name, value)
    for fld in layer.fields_desc:  # counters of a changed list are recomputed (NumberOfGroups of Groups)
        if isinstance(fld, FieldLenField) and name in (fld.count_of, fld.length_of):
            layer.setfieldval(fld.name, None)
