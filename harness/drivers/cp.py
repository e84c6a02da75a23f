"""Control-pilot instruments as the bench sees them, whatever drives them (simulation, SCPI, a serial CP board).

- `CpGenerator` — our EVSE side: output off, +12 V steady (X1), 1 kHz PWM with a duty (X2), force E or F, and
  read the pilot back when the instrument can measure.
- `CpLoad` — our vehicle side: present A/B/C/D (R2, R3 switching), inject a missing diode or a CP–PE short, and
  read what the charger drives.
- `PilotWatch` — the last known pilot reading; every change goes on the timeline as a `cp` record
  (`state B`, body `{state, duty, volts, low, ...}`) and to subscribers (simulated DUTs, stack nodes as
  `CpObserved` inputs).
- `CpLink` — what a `cp` driver factory returns to the bench: the instrument(s) on our side, the watch, and
  `attach(node, side)` for runner nodes whose `SetCpOscillator`/`SetCpLoad` outputs must reach the pilot (the
  `CpPort` of `harness.runtime.runner`).

Every action of an instrument is recorded (`cp` layer, name `oscillator`/`load`/`safe`, src the instrument
label), limits are checked before anything reaches hardware, and `safe()` is registered with `harness.safety`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness import safety
from harness.clock import Clock
from harness.drivers import Check, ResourceUnavailable
from harness.records import Record, Timeline
from harness.runtime.runner import Node, Runner, RunnerError
from stack import cp
from stack import sansio as io

OSCILLATOR_MODES = ("off", "dc", "pwm", "E", "F")
LOAD_STATES = ("A", "B", "C", "D")
LOAD_FAULTS = (None, "no-diode", "short-to-pe")


class SafetyLimitError(ValueError):
    """A test asked for something the rig's `[limits]` forbid (e.g. a duty that offers more current than the
    cable or the bench allows). Nothing was sent to the instrument."""


@dataclass(frozen=True)
class CpSetting:
    """What the EVSE-side oscillator does: `off` (output disabled), `dc` (+12 V, X1), `pwm` (X2 with `duty`),
    `E` (0 V) or `F` (−12 V)."""

    mode: str
    duty: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in OSCILLATOR_MODES:
            raise ValueError(f"unknown oscillator mode {self.mode!r} (known: {', '.join(OSCILLATOR_MODES)})")
        if self.mode == "pwm" and (self.duty is None or not 0.0 < self.duty < 100.0):
            raise ValueError(f"PWM duty must be between 0 and 100 %, got {self.duty!r}")

    @classmethod
    def from_output(cls, out: io.SetCpOscillator) -> CpSetting:
        if out.state in ("E", "F"):
            return cls(out.state)
        if out.state not in (None, "A", "B", "C", "D"):
            raise RunnerError(f"SetCpOscillator(state={out.state!r}): an EVSE can only force E or F")
        return cls("dc") if out.duty is None else cls("pwm", float(out.duty))

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "duty": self.duty}


class CpInstrument(ABC):
    """Shared by generator and load: recording, measurement, safety registration."""

    side = ""
    need = ""  # the capability a test needs to use this instrument

    def __init__(self, label: str, can_measure: bool = False) -> None:
        self.label = label
        self.can_measure = can_measure
        self.timeline: Timeline | None = None
        self.clock: Clock | None = None
        safety.register(self, label)

    def bind(self, timeline: Timeline, clock: Clock) -> None:
        """Record actions on this test's timeline, timed by the rig's clock."""
        self.timeline, self.clock = timeline, clock

    def record(self, name: str, body: dict[str, Any] | None = None, error: str | None = None) -> None:
        if self.timeline is not None and self.clock is not None:
            self.timeline.add(Record(t=self.clock.now(), layer="cp", name=name, src=self.label, body=body,
                                     error=error))

    def measure(self) -> cp.CpReading:
        """Read the pilot as this instrument sees it. Skips the test (`needs cp-measurement`) when it cannot."""
        if not self.can_measure:
            raise ResourceUnavailable("cp-measurement", f"{self.label} cannot measure the pilot")
        return self._measure()

    def safe(self) -> None:
        self.record("safe", {"side": self.side})
        self._safe()

    def close(self) -> None:
        """Release the instrument for this test (after `safe()`); session-wide connections stay open."""
        safety.unregister(self)

    @abstractmethod
    def _measure(self) -> cp.CpReading: ...

    @abstractmethod
    def _safe(self) -> None: ...


class CpGenerator(CpInstrument):
    """Our EVSE side of the pilot."""

    side = "evse"
    need = "cp-generator"

    def __init__(self, label: str, can_measure: bool = False, max_current_a: float | None = None) -> None:
        super().__init__(label, can_measure)
        self.max_current_a = max_current_a
        self.setting = CpSetting("off")

    def set_dc(self) -> None:
        """+12 V steady: state A/B/C as the vehicle loads it, oscillator X1."""
        self.apply(CpSetting("dc"))

    def set_pwm(self, duty: float) -> None:
        """1 kHz ±12 V PWM with `duty` percent (X2). 5 % asks for digital communication."""
        self.apply(CpSetting("pwm", float(duty)))

    def set_current(self, amps: float) -> None:
        """PWM offering `amps` (IEC 61851-1 duty for that current)."""
        self.set_pwm(cp.duty_for_current(amps))

    def set_state(self, state: str) -> None:
        """Force E (0 V) or F (−12 V)."""
        if state not in ("E", "F"):
            raise ValueError(f"a generator forces only E or F, not {state!r} (A–D are what the vehicle presents)")
        self.apply(CpSetting(state))

    def output_off(self) -> None:
        self.apply(CpSetting("off"))

    def apply(self, setting: CpSetting) -> None:
        self._check_limits(setting)
        self.record("oscillator", setting.as_dict())  # before: the pilot change it causes comes after it
        try:
            self._apply(setting)
        except Exception as exc:
            self.record("oscillator failed", setting.as_dict(), error=f"{type(exc).__name__}: {exc}")
            raise
        self.setting = setting

    def _check_limits(self, setting: CpSetting) -> None:
        if setting.mode != "pwm" or self.max_current_a is None:
            return
        meaning = cp.interpret_duty(setting.duty)
        if meaning.amps is not None and meaning.amps > self.max_current_a + 1e-9:
            raise SafetyLimitError(f"{setting.duty:.2f} % offers {meaning.amps:.1f} A, above the rig limit "
                                   f"limits.max_current_a = {self.max_current_a:g} A")

    def safe(self) -> None:
        super().safe()
        self.setting = CpSetting("off")

    @abstractmethod
    def _apply(self, setting: CpSetting) -> None: ...


class CpLoad(CpInstrument):
    """Our vehicle side of the pilot."""

    side = "pev"
    need = "cp-load"

    def __init__(self, label: str, can_measure: bool = False, can_fault: bool = False) -> None:
        super().__init__(label, can_measure)
        self.can_fault = can_fault
        self.state = "A"
        self.fault: str | None = None

    def set_state(self, state: str) -> None:
        """Present A (open), B (R2), C (R2 ∥ 1.3 kΩ) or D (R2 ∥ 270 Ω)."""
        if state not in LOAD_STATES:
            raise ValueError(f"a vehicle load presents A, B, C or D, not {state!r}")
        self._do("load", {"state": state, "fault": self.fault}, lambda: self._set_state(state))
        self.state = state

    def set_fault(self, fault: str | None) -> None:
        """Inject a missing diode (`no-diode`) or a CP–PE short (`short-to-pe`); None clears it."""
        if fault not in LOAD_FAULTS:
            raise ValueError(f"unknown load fault {fault!r} (known: no-diode, short-to-pe)")
        if not self.can_fault:
            raise ResourceUnavailable("cp-load-faults", f"{self.label} cannot inject load faults")
        self._do("load", {"state": self.state, "fault": fault}, lambda: self._set_fault(fault))
        self.fault = fault

    def _do(self, name: str, body: dict[str, Any], action: Callable[[], None]) -> None:
        self.record(name, body)  # before: the pilot change it causes comes after it
        try:
            action()
        except Exception as exc:
            self.record(f"{name} failed", body, error=f"{type(exc).__name__}: {exc}")
            raise

    def safe(self) -> None:
        super().safe()
        self.state, self.fault = "A", None

    @abstractmethod
    def _set_state(self, state: str) -> None: ...

    def _set_fault(self, fault: str | None) -> None:
        raise ResourceUnavailable("cp-load-faults", f"{self.label} cannot inject load faults")


def level_checks(name: str, high_v: float, low_v: float, gain: float | None, max_output_v: float | None,
                 instrument: str, limits: dict[str, Any]) -> list[Check]:
    """Configured CP levels against IEC 61851-1 and what the instrument can make; the rig's current limit."""
    checks = []
    tol = cp.GENERATOR_TOLERANCE_V
    for key, value, nominal in (("high_v", high_v, cp.GENERATOR_HIGH_V), ("low_v", low_v, cp.GENERATOR_LOW_V)):
        if abs(value - nominal) > tol + 1e-9:
            checks.append(Check.wrong(f"{name}: levels", f"cp.{key} = {value:g} V is outside IEC 61851-1's "
                                      f"{nominal:+g} V ± {tol:g} V", f"set cp.{key} between {nominal - tol:+g} and "
                                      f"{nominal + tol:+g} V"))
    if gain is not None and max_output_v is not None:
        out = max(abs(high_v), abs(low_v)) / gain
        if out > max_output_v + 1e-9:
            checks.append(Check.wrong(f"{name}: levels", f"the generator would have to output ±{out:g} V "
                                      f"(±12 V / cp.amplifier_gain = {gain:g}); {instrument} makes ±{max_output_v:g} V "
                                      "at most into high-Z", "put a ±12 V CP buffer amplifier after the generator and "
                                      "set cp.amplifier_gain to its gain"))
    limit = limits.get("max_current_a")
    if limit is not None and limit > 80.0:
        checks.append(Check.wrong(f"{name}: limits", f"limits.max_current_a = {limit:g} A: a PWM duty offers 80 A "
                                  "at most", "set limits.max_current_a to the cable's or bench's rating (≤ 80 A)"))
    if not checks:
        where = f", generator ±{max(abs(high_v), abs(low_v)) / gain:g} V" if gain else ""
        cap = f"offers ≤ {limit:g} A" if limit is not None else "no limits.max_current_a: any duty may be offered"
        checks.append(Check.passed(f"{name}: levels", f"CP {high_v:+g} / {low_v:+g} V{where}; PWM {cap}"))
    return checks


def _same(a: cp.CpReading | None, b: cp.CpReading) -> bool:
    if a is None:
        return False
    duty_a = None if a.duty is None else round(a.duty, 1)
    duty_b = None if b.duty is None else round(b.duty, 1)
    return (a.state, duty_a, a.fault) == (b.state, duty_b, b.fault)


class PilotWatch:
    """The last pilot reading. A change of state, duty (0.1 %) or fault is recorded and announced to subscribers
    at the same instant through the runner (so a simulated DUT reacts on the runner's clock, never re-entrantly)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.reading: cp.CpReading | None = None
        self._subscribers: list[Callable[[cp.CpReading], None]] = []

    @property
    def state(self) -> str | None:
        return None if self.reading is None else self.reading.state

    def subscribe(self, callback: Callable[[cp.CpReading], None]) -> None:
        self._subscribers.append(callback)
        if self.reading is not None:
            reading = self.reading
            self.runner.call_soon(lambda: callback(reading))

    def unsubscribe(self, callback: Callable[[cp.CpReading], None]) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def update(self, reading: cp.CpReading) -> bool:
        changed = not _same(self.reading, reading)
        self.reading = reading
        if not changed:
            return False
        self.runner.timeline.add(Record(t=self.runner.clock.now(), layer="cp", name=f"state {reading.state}",
                                        src="cp", body=reading.as_dict()))
        for callback in list(self._subscribers):
            self.runner.call_soon(lambda callback=callback: callback(reading))
        return True


class GeneratorPort:
    """`CpPort` of an EVSE node: its `SetCpOscillator` outputs drive our generator."""

    def __init__(self, generator: CpGenerator) -> None:
        self.generator = generator

    def apply(self, out: io.SetCpOscillator | io.SetCpLoad, now: float) -> None:
        if not isinstance(out, io.SetCpOscillator):
            raise RunnerError("an EVSE-side node cannot switch the vehicle's CP load")
        self.generator.apply(CpSetting.from_output(out))


class LoadPort:
    """`CpPort` of a PEV node: its `SetCpLoad` outputs switch our vehicle load."""

    def __init__(self, load: CpLoad) -> None:
        self.load = load

    def apply(self, out: io.SetCpOscillator | io.SetCpLoad, now: float) -> None:
        if not isinstance(out, io.SetCpLoad):
            raise RunnerError("a PEV-side node cannot drive the CP oscillator")
        self.load.set_state(out.state)


class CpLink:
    """The bench's control pilot: our instrument(s), the pilot watch, and attachment points for nodes.

    `generator` / `load` are None when the rig has no such instrument (the `cp` / `cp_load` fixtures then skip
    with `needs cp-generator` / `needs cp-load`). `dut` is the simulated DUT on the sim rig, else None.
    """

    def __init__(self, runner: Runner, generator: CpGenerator | None = None, load: CpLoad | None = None,
                 dut: Any = None) -> None:
        self.runner = runner
        self.watch = PilotWatch(runner)
        self.generator, self.load, self.dut = generator, load, dut
        self.dut_instrument: CpInstrument | None = None  # loopback rigs: the instrument our simulated DUT drives
        for instrument in self.instruments():
            instrument.bind(runner.timeline, runner.clock)

    def instruments(self) -> list[CpInstrument]:
        return [i for i in (self.generator, self.load, self.dut_instrument) if i is not None]

    def attach(self, node: Node, side: str) -> None:
        """Give a runner node the pilot: its CP outputs reach our instrument on `side` ("evse" or "pev") and it
        receives `CpObserved` on every pilot change (and the current reading right away)."""
        if side == "evse":
            if self.generator is None:
                raise ResourceUnavailable("cp-generator", "this rig has no EVSE-side CP instrument")
            node.cp = GeneratorPort(self.generator)
        elif side == "pev":
            if self.load is None:
                raise ResourceUnavailable("cp-load", "this rig has no vehicle-side CP instrument")
            node.cp = LoadPort(self.load)
        else:
            raise ValueError(f"side must be 'evse' or 'pev', not {side!r}")
        self.watch.subscribe(lambda r: self.runner.deliver(node, io.CpObserved(r.state, r.duty, r.high),
                                                           source="cp"))

    def start(self) -> None:
        """Called once by the bench before the test body uses the link."""

    def measure(self) -> cp.CpReading:
        for instrument in self.instruments():
            if instrument.can_measure:
                reading = instrument.measure()
                self.watch.update(reading)
                return reading
        raise ResourceUnavailable("cp-measurement", "no CP instrument on this rig can measure the pilot")

    def safe(self) -> None:
        for instrument in self.instruments():
            instrument.safe()

    def close(self) -> None:
        for instrument in self.instruments():
            instrument.close()


class PolledCpLink(CpLink):
    """A link to real instruments: on the monotonic clock the pilot is polled every `interval` seconds while the
    runner runs, so waits see changes the DUT makes and nodes get `CpObserved`."""

    def __init__(self, runner: Runner, interval: float, **kw: Any) -> None:
        super().__init__(runner, **kw)
        self.interval = interval
        self._polling = False

    def start(self) -> None:
        if any(i.can_measure for i in self.instruments()) and not self.runner.virtual:
            self._polling = True
            self.measure()  # the pilot as it is now, before anything happens
            self.runner.call_at(self.runner.clock.now() + self.interval, self._poll)
        if self.dut is not None:
            self.dut.start()

    def attach(self, node: Node, side: str) -> None:
        """As `CpLink.attach`; on a loopback rig a node on the DUT's side takes the seat from the simulator."""
        from harness.drivers.dut_seat import release_seat

        release_seat(self, side)
        super().attach(node, side)

    def _poll(self) -> None:
        if not self._polling:
            return
        self.measure()
        self.runner.call_at(self.runner.clock.now() + self.interval, self._poll)

    def safe(self) -> None:
        self._polling = False
        super().safe()
