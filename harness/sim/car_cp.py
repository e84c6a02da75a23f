"""The simulated vehicle on the control pilot: its resistor/diode network and how it behaves.

`CarCpLoad` is the physics: the vehicle's diode in series with R2 = 2.74 kΩ, with R3 = 1.3 kΩ (state C) or 270 Ω
(state D) switched in parallel by S2, and the faults a test bench injects — diode missing (the negative half is
no longer clamped at −12 V) and CP shorted to PE (0 V). `pilot_voltage()` solves the divider between the EVSE's
source (±12 V behind 1 kΩ) and this load; `harness.sim.cp_line` classifies the result with `stack.cp`, so the
state a test sees comes out of the circuit, never from a flag.

`SimCar` is the behaviour of a car on the sim rig when it is the DUT: it is plugged in on a schedule, closes S2
(B→C) a reaction time after it sees a nominal PWM when it wants energy, stays in B at 5 % (it waits for a
high-level session), opens S2 again when the PWM stops or the EVSE signals E/F. Its reactions are scheduled on the
runner (`call_at`), so they happen at exact virtual times. `--dut-fault` names (see `FAULTS`) make it misbehave,
so every catalogue test has a DUT that fails it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.options import Opt
from harness.runtime.runner import Runner
from stack import cp

# name -> what it does to the simulated car (listed by `--dut-fault` help and validated against)
DUT_ROLE = "pev"  # these faults make the simulated car the faulty DUT
FAULTS = {
    "no-diode": "the vehicle's CP diode is missing (negative half not clamped)",
    "short-to-pe": "CP is shorted to PE in the vehicle (pilot at 0 V, state E)",
    "r2-1k5": "R2 is 1.5 kΩ instead of 2.74 kΩ (state B level out of band)",
    "no-state-c": "the vehicle never closes S2 although it wants energy",
    "late-state-c": "the vehicle closes S2 only 10 s after the PWM starts",
    "c-at-5-percent": "the vehicle closes S2 at 5 % PWM without a high-level session",
    "ignores-pwm-stop": "the vehicle stays in C when the PWM stops or the EVSE signals E/F",
}

CAR_OPTIONS = {
    "plug_at_s": Opt(float, default=0.0, min=0, doc="when the car is plugged in (s after the bench starts)"),
    "wants_charge": Opt(bool, default=True, doc="the car asks for energy (B→C) when it may"),
    "reaction_s": Opt(float, default=0.25, min=0, doc="delay between seeing a pilot change and reacting"),
    "r2_ohm": Opt(float, default=cp.R2_OHM, min=1), "r3_c_ohm": Opt(float, default=cp.R3_C_OHM, min=1),
    "r3_d_ohm": Opt(float, default=cp.R3_D_OHM, min=1),
    "diode_drop_v": Opt(float, default=cp.DIODE_DROP_V, min=0),
    "ventilation": Opt(bool, default=False, doc="the car asks for D (charging with ventilation) instead of C"),
    "schedule": Opt(list, default=[], items=dict,
                    doc="extra events: [{at = 30.0, action = \"unplug\"}] (plug, unplug, want, stop)"),
}


@dataclass
class CarCpLoad:
    """The vehicle's CP circuit (physics only)."""

    r2_ohm: float = cp.R2_OHM
    r3_c_ohm: float = cp.R3_C_OHM
    r3_d_ohm: float = cp.R3_D_OHM
    diode_drop_v: float = cp.DIODE_DROP_V
    connected: bool = False
    s2: str = "B"  # which resistors are switched in: "B" (R2), "C" (R2 ∥ R3c), "D" (R2 ∥ R3d)
    diode: bool = True
    short_to_pe: bool = False

    def resistance(self) -> float:
        if self.s2 == "C":
            return cp.parallel(self.r2_ohm, self.r3_c_ohm)
        if self.s2 == "D":
            return cp.parallel(self.r2_ohm, self.r3_d_ohm)
        return self.r2_ohm

    def pilot_voltage(self, source_v: float, source_ohm: float) -> float:
        """Voltage at the CP contact when the EVSE drives `source_v` through `source_ohm` into this load."""
        if not self.connected:
            return source_v  # open circuit: no current through the source resistor
        if self.short_to_pe:
            return 0.0
        load = self.resistance()
        if not self.diode:
            return source_v * load / (load + source_ohm)
        if source_v <= self.diode_drop_v:
            return source_v  # diode blocks: no current, the pilot follows the source
        current = (source_v - self.diode_drop_v) / (source_ohm + load)
        return source_v - current * source_ohm

    def present(self, state: str) -> None:
        """Switch the load so the pilot shows `state` (A = unplugged)."""
        if state == "A":
            self.connected = False
        elif state in ("B", "C", "D"):
            self.connected, self.s2 = True, state
        else:
            raise ValueError(f"a vehicle presents A, B, C or D, not {state!r}")

    @property
    def presented(self) -> str:
        return self.s2 if self.connected else "A"

    @classmethod
    def from_options(cls, options: dict[str, Any], faults: set[str]) -> CarCpLoad:
        load = cls(options["r2_ohm"], options["r3_c_ohm"], options["r3_d_ohm"], options["diode_drop_v"])
        if "r2-1k5" in faults:
            load.r2_ohm = 1500.0
        load.diode = "no-diode" not in faults
        load.short_to_pe = "short-to-pe" in faults
        return load


class SimCar:
    """A vehicle's CP behaviour on the sim rig (the DUT when a test has `dut_role("pev")`)."""

    def __init__(self, runner: Runner, line: Any, options: dict[str, Any], faults: set[str],
                 time_scale: float = 1.0, hlc: bool = False) -> None:
        self.runner, self.line, self.faults = runner, line, faults
        self.plug_at = options["plug_at_s"] * time_scale
        self.reaction = options["reaction_s"] * time_scale
        self.wants_charge = options["wants_charge"]
        self.hlc = hlc  # a high-level-communication car waits at 5 % for its session (later work drives it)
        self.ready_state = "D" if options["ventilation"] else "C"
        self.schedule = [(float(e.get("at", 0.0)) * time_scale, str(e.get("action", ""))) for e in options["schedule"]]
        self.session_ready = False  # set by a high-level session (later work), allows C at 5 %
        self._pending: tuple[float, str] | None = None

    def start(self) -> None:
        now = self.runner.clock.now()
        self.runner.call_at(now + self.plug_at, lambda: self.do("plug"))
        for at, action in self.schedule:
            self.runner.call_at(now + at, lambda action=action: self.do(action))
        self.line.watch.subscribe(self.observe)

    def do(self, action: str) -> None:
        """A scheduled or test-driven event: plug, unplug, want (energy), stop (wanting energy)."""
        if action == "plug":
            self.line.present("B")
        elif action == "unplug":
            self.line.present("A")
        elif action in ("want", "stop"):
            self.wants_charge = action == "want"
            if self.line.watch.reading is not None:
                self.observe(self.line.watch.reading)
        else:
            raise ValueError(f"unknown car action {action!r} (plug, unplug, want, stop)")

    def _target(self, reading: cp.CpReading) -> str | None:
        """Which state the car wants to present given what it sees (None: leave S2 as it is)."""
        presented = self.line.load.presented
        if presented == "A":
            return None
        meaning = cp.interpret_duty(reading.duty)
        may_draw = meaning.kind == "current" or (meaning.kind == "digital" and
                                                 (self.session_ready or "c-at-5-percent" in self.faults))
        if reading.state in ("E", "F") or reading.duty is None:
            return None if "ignores-pwm-stop" in self.faults else "B"
        if may_draw and self.wants_charge and "no-state-c" not in self.faults:
            return self.ready_state
        if not self.wants_charge or meaning.kind in ("digital", "forbidden"):
            return None if "ignores-pwm-stop" in self.faults and presented in ("C", "D") else "B"
        return None

    def observe(self, reading: cp.CpReading) -> None:
        target = self._target(reading)
        if target is None or target == self.line.load.presented:
            self._pending = None
            return
        delay = self.reaction
        if target in ("C", "D") and "late-state-c" in self.faults:
            delay = 10.0
        at = self.runner.clock.now() + delay
        if self._pending is not None and self._pending[1] == target:
            return  # already on its way
        self._pending = (at, target)
        self.runner.call_at(at, lambda: self._react(at, target))

    def _react(self, at: float, target: str) -> None:
        if self._pending != (at, target):
            return  # superseded by a later observation
        self._pending = None
        if self.line.load.presented != "A":
            self.line.present(target)
