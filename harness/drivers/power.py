"""Power stage stand-ins for DC sessions at a bench: what our EVSE uses to put a real voltage on its output.

`[power] driver = ...` (registry kind `power`):

| driver        | what it is                                                                               | measured |
|---------------|------------------------------------------------------------------------------------------|----------|
| `none`        | no power hardware: our EVSE runs its simulated power stage (stack/sessions/physics.py)   | no       |
| `bulb`        | a fixed DC source and a resistive load (light bulbs) switched by a relay (the seed       | with a   |
|               | project's bench trick); V/I from a measuring channel when the rig has one, else nominal  | meter    |
| `scpi-supply` | a programmable DC supply over pyvisa: set point, current limit, output, measured V/I     | yes      |

A rig without a `[power]` table is `none`. Every timeline's meta record says which one ran (`power_stage`:
`simulated`, `bulb` or `scpi-supply`), and so does the report: a voltage our EVSE reported came from a
simulation or from a measurement, never ambiguously.

Bench voltages are scaled: `voltage_scale` supply volts per EVSE volt (a 60 V bench supply standing in for a
500 V stage: 0.1). Targets are in EVSE volts; readings are given back in EVSE volts (`voltage`) and as measured
(`supply_v`). Every set point is checked against `limits.max_dc_voltage_v` / `limits.max_dc_current_a` and the
stage's own `max_output_v` before anything reaches the hardware (`SafetyLimitError`).

The interface (`PowerStage`): `set_target(voltage, current)`, `output_on()`, `output_off()`, `read() ->
PowerReading`, `safe()` (output off; registered with `harness.safety`, so every exit path switches it off),
`close()`. Actions and readings go on the timeline (layer `power`).

Our EVSE with a real stage: `StageAdapter(stage, simulated)` has the surface of the sessions' simulated
`PowerStage` (set_target/switch_on/switch_off/emergency_off/update, voltage/current/output_on), so the EVSE role
reads present voltage and current from the instrument instead of the model; what a bench cannot do (the
insulation test) still comes from the simulated stage it wraps:

    evse = Evse(config)                                   # stack.roles.evse
    evse.ctx.stage = StageAdapter(bench.resource("power"), evse.ctx.stage)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from harness import safety
from harness.drivers.cp import SafetyLimitError
from harness.options import Opt
from harness.records import Record

SCALE_OPTIONS = {
    "voltage_scale": Opt(float, default=1.0, min=1e-6, doc="bench volts per EVSE volt (0.1: 40 V for 400 V)"),
    "current_scale": Opt(float, default=1.0, min=1e-6, doc="bench amps per EVSE amp"),
    "max_output_v": Opt(float, min=0, doc="the most the bench wiring and load may see (bench volts)"),
}


def stage_name(rig: Any) -> str:
    """What the timeline meta says about the power stage of this rig."""
    section = rig.section("power")
    return "simulated" if section is None or section.driver == "none" else section.driver


@dataclass(frozen=True)
class PowerReading:
    voltage: float  # EVSE volts (bench volts / voltage_scale)
    current: float  # EVSE amps
    output: bool
    measured: bool  # read from an instrument (False: nominal values of a stage that cannot measure)
    supply_v: float = 0.0  # as at the bench
    supply_a: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"voltage": round(self.voltage, 3), "current": round(self.current, 3), "output": self.output,
                "measured": self.measured, "supply_v": round(self.supply_v, 4), "supply_a": round(self.supply_a, 4)}


class PowerStage(ABC):
    """A real power stage (or stand-in) at the bench."""

    kind = ""

    def __init__(self, label: str, options: dict[str, Any], limits: dict[str, Any]) -> None:
        self.label = label
        self.voltage_scale, self.current_scale = options["voltage_scale"], options["current_scale"]
        self.max_output_v = options.get("max_output_v")
        self.max_voltage = limits.get("max_dc_voltage_v")
        self.max_current = limits.get("max_dc_current_a")
        self.target: tuple[float, float] = (0.0, 0.0)
        self.on = False
        self.bench: Any = None
        safety.register(self, label)

    def bind(self, bench: Any) -> None:
        self.bench = bench

    def record(self, name: str, body: dict[str, Any], error: str | None = None) -> None:
        if self.bench is not None:
            self.bench.timeline.add(Record(t=self.bench.clock.now(), layer="power", name=name, src=self.label,
                                           body=body, error=error))

    # ------------------------------------------------------------------ the interface

    def set_target(self, voltage: float, current: float) -> None:
        """Set point in EVSE volts/amps, checked against the rig's limits first."""
        self._check(voltage, current)
        self.record("target", {"voltage": voltage, "current": current, "supply_v": voltage * self.voltage_scale,
                               "supply_a": current * self.current_scale})
        self._do("target", lambda: self._set_target(voltage * self.voltage_scale, current * self.current_scale))
        self.target = (voltage, current)

    def output_on(self) -> None:
        self.record("output", {"on": True})
        self._do("output", lambda: self._output(True))
        self.on = True

    def output_off(self) -> None:
        self.record("output", {"on": False})
        self._do("output", lambda: self._output(False))
        self.on = False

    def read(self) -> PowerReading:
        reading = self._read()
        self.record("reading", reading.as_dict())
        return reading

    def safe(self) -> None:
        self.record("safe", {"output": False})
        self._safe()
        self.on = False

    def close(self) -> None:
        safety.unregister(self)

    # ------------------------------------------------------------------ helpers

    def _check(self, voltage: float, current: float) -> None:
        if voltage < 0 or current < 0:
            raise SafetyLimitError(f"{self.label}: negative set point {voltage:g} V / {current:g} A")
        if self.max_voltage is not None and voltage > self.max_voltage + 1e-9:
            raise SafetyLimitError(f"{self.label}: {voltage:g} V is above the rig limit limits.max_dc_voltage_v = "
                                   f"{self.max_voltage:g} V")
        if self.max_current is not None and current > self.max_current + 1e-9:
            raise SafetyLimitError(f"{self.label}: {current:g} A is above the rig limit limits.max_dc_current_a = "
                                   f"{self.max_current:g} A")
        bench_v = voltage * self.voltage_scale
        if self.max_output_v is not None and bench_v > self.max_output_v + 1e-9:
            raise SafetyLimitError(f"{self.label}: {voltage:g} V is {bench_v:g} V at the bench, above "
                                   f"power.max_output_v = {self.max_output_v:g} V")

    def _do(self, name: str, action: Any) -> None:
        try:
            action()
        except Exception as exc:
            self.record(f"{name} failed", {}, error=f"{type(exc).__name__}: {exc}")
            raise

    def scaled(self, supply_v: float, supply_a: float, output: bool, measured: bool) -> PowerReading:
        return PowerReading(supply_v / self.voltage_scale, supply_a / self.current_scale, output, measured,
                            supply_v, supply_a)

    @abstractmethod
    def _set_target(self, supply_v: float, supply_a: float) -> None: ...

    @abstractmethod
    def _output(self, on: bool) -> None: ...

    @abstractmethod
    def _read(self) -> PowerReading: ...

    @abstractmethod
    def _safe(self) -> None: ...


class StageAdapter:
    """Our EVSE's power stage backed by a real `PowerStage`: the surface of the sessions' simulated stage
    (`stack.sessions.physics.PowerStage`), with present voltage/current measured at the bench.

    Set points, switching and emergency off go to the instrument (synchronously; each is one short SCPI or serial
    exchange). `update(now)` reads the instrument at most every `min_interval` seconds of the caller's clock, so a
    busy CurrentDemand loop does not flood it. The insulation test, limits and configuration come from
    `simulated`, which also follows every command so its state stays consistent."""

    def __init__(self, stage: PowerStage, simulated: Any, min_interval: float = 0.05) -> None:
        self.stage, self.sim, self.min_interval = stage, simulated, min_interval
        self.reading = PowerReading(0.0, 0.0, False, stage.kind != "bulb")
        self.energy_wh = 0.0
        self._last: float | None = None

    def __getattr__(self, name: str) -> Any:  # config, isolation_*, limits_hit, emergency, ...
        return getattr(self.sim, name)

    @property
    def voltage(self) -> float:
        return self.reading.voltage

    @property
    def current(self) -> float:
        return self.reading.current

    @property
    def output_on(self) -> bool:
        return self.reading.output

    def set_target(self, voltage: float, current: float, now: float) -> None:
        self.sim.set_target(voltage, current, now)
        self.stage.set_target(voltage, current)

    def switch_on(self, now: float) -> None:
        self.sim.switch_on(now)
        if not self.sim.emergency:
            self.stage.output_on()
        self._refresh(now)

    def switch_off(self, now: float) -> None:
        self.sim.switch_off(now)
        self.stage.output_off()
        self._refresh(now)

    def emergency_off(self, now: float) -> None:
        self.sim.emergency_off(now)
        self.stage.output_off()
        self._refresh(now)

    def reset_for_new_session(self) -> None:
        self.sim.reset_for_new_session()

    def update(self, now: float) -> None:
        self.sim.update(now)
        if self._last is None or now - self._last >= self.min_interval:
            self._refresh(now)

    def _refresh(self, now: float) -> None:
        previous, self._last = self._last, now
        self.reading = self.stage.read()
        if previous is not None and now > previous:
            self.energy_wh += self.reading.voltage * self.reading.current * (now - previous) / 3600.0


def scale_checks(name: str, options: dict[str, Any], limits: dict[str, Any], fixed_v: float | None = None) -> list:
    """The rig's DC limits, scaled to the bench, against what the bench may see."""
    from harness.drivers import Check

    max_out, scale = options.get("max_output_v"), options["voltage_scale"]
    limit = limits.get("max_dc_voltage_v")
    checks = []
    if fixed_v is not None and max_out is not None and fixed_v > max_out + 1e-9:
        checks.append(Check.wrong(f"{name}: levels", f"power.source_v = {fixed_v:g} V is above power.max_output_v "
                                  f"= {max_out:g} V", "use a lower source or raise max_output_v to what the load "
                                  "is rated for"))
    if limit is not None and max_out is not None and limit * scale > max_out + 1e-9:
        checks.append(Check.wrong(f"{name}: levels", f"limits.max_dc_voltage_v = {limit:g} V × power.voltage_scale "
                                  f"{scale:g} = {limit * scale:g} V at the bench, above power.max_output_v = "
                                  f"{max_out:g} V", "lower limits.max_dc_voltage_v or power.voltage_scale"))
    if limit is None and max_out is None:
        checks.append(Check.wrong(f"{name}: levels", "neither limits.max_dc_voltage_v nor power.max_output_v is "
                                  "set: nothing bounds the voltage at the bench", "set power.max_output_v to what "
                                  "the wiring and load are rated for"))
    if not checks:
        bound = min(x for x in (max_out, limit * scale if limit is not None else None) if x is not None)
        checks.append(Check.passed(f"{name}: levels", f"at most {bound:g} V at the bench (voltage_scale {scale:g})"))
    return checks
