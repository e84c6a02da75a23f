"""Simulated physics behind each role, so the loops behave like hardware and not like a script.

`Battery` (the PEV): capacity, state of charge, the voltage it shows, the current it asks for (constant current
up to `taper_soc`, then tapering linearly down to `end_current` at `target_soc`), and the energy it takes in.
`PowerStage` (the EVSE): output voltage that follows the target with a dead time and a ramp rate, current that
follows the target within the current/power limits, an isolation test that takes `isolation_time` and ends with a
configured result, contactors, emergency off, and discharge after switch-off (what WeldingDetection measures).

Both are sans-IO: they are told `now` and integrate from the last time they were told. `time_scale` speeds the
battery up (a 30 % charge in seconds of simulated time) without changing any protocol timing. Both are built from
plain dicts (rig files, tests): `Battery.from_dict({"capacity_kwh": 40, "soc": 20})`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any


def _from_dict(cls: type, values: dict[str, Any] | None) -> Any:
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return cls(**values)


def _toward(value: float, target: float, max_step: float) -> float:
    if abs(target - value) <= max_step:
        return target
    return value + math.copysign(max_step, target - value)


@dataclass
class BatteryConfig:
    capacity_kwh: float = 60.0
    soc: float = 30.0  # % at plug-in
    target_soc: float = 80.0  # ChargingComplete when reached
    bulk_soc: float = 75.0
    full_soc: float = 100.0
    min_voltage: float = 320.0  # open-circuit voltage at 0 % SoC
    max_voltage: float = 420.0  # at 100 % SoC; also EVMaximumVoltageLimit
    internal_resistance: float = 0.05  # Ω: target voltage = OCV + I·R
    max_current: float = 125.0  # A, EVMaximumCurrentLimit (DC)
    max_power: float = 50_000.0  # W, EVMaximumPowerLimit
    taper_soc: float = 70.0  # above this the requested current falls linearly
    end_current: float = 5.0  # A requested at target_soc
    precharge_current: float = 2.0  # A, EVTargetCurrent during PreCharge
    ac_max_current: float = 16.0  # A per phase (AC_EVChargeParameter EVMaxCurrent)
    ac_min_current: float = 6.0
    ac_phases: int = 3
    ac_voltage: float = 230.0
    time_scale: float = 1.0  # energy flow multiplier (simulation speed-up)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> BatteryConfig:
        return _from_dict(cls, values)


@dataclass
class Battery:
    config: BatteryConfig = field(default_factory=BatteryConfig)
    soc: float = field(init=False)
    energy_wh: float = field(default=0.0, init=False)  # taken in so far
    _last: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.soc = self.config.soc

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Battery:
        return cls(BatteryConfig.from_dict(values))

    @property
    def open_circuit_voltage(self) -> float:
        c = self.config
        return c.min_voltage + (c.max_voltage - c.min_voltage) * self.soc / 100.0

    @property
    def complete(self) -> bool:
        return self.soc >= self.config.target_soc

    @property
    def bulk_complete(self) -> bool:
        return self.soc >= self.config.bulk_soc

    def target_current(self) -> float:
        c = self.config
        if self.complete:
            return 0.0
        current = c.max_current
        if self.soc > c.taper_soc and c.target_soc > c.taper_soc:
            fraction = (c.target_soc - self.soc) / (c.target_soc - c.taper_soc)
            current = c.end_current + (c.max_current - c.end_current) * fraction
        voltage = self.target_voltage(current)
        return max(0.0, min(current, c.max_power / voltage if voltage > 0 else current))

    def target_voltage(self, current: float | None = None) -> float:
        current = self.config.max_current if current is None else current
        return min(self.config.max_voltage, self.open_circuit_voltage + current * self.config.internal_resistance)

    def energy_request_wh(self) -> float:
        return max(0.0, (self.config.target_soc - self.soc) / 100.0 * self.config.capacity_kwh * 1000.0)

    def remaining_time(self, to_soc: float, current: float) -> float | None:
        """Seconds (simulated, scaled) until `to_soc` at `current`; None when not charging."""
        power = current * self.open_circuit_voltage * self.config.time_scale
        if power <= 0 or self.soc >= to_soc:
            return None
        return (to_soc - self.soc) / 100.0 * self.config.capacity_kwh * 3_600_000.0 / power

    def charge(self, voltage: float, current: float, now: float) -> None:
        """Integrate the power flowing in since the last call (voltage × current as the EVSE reports it)."""
        if self._last is not None and now > self._last and current > 0 and voltage > 0:
            wh = voltage * current * (now - self._last) / 3600.0 * self.config.time_scale
            self.energy_wh += wh
            self.soc = min(100.0, self.soc + wh / (self.config.capacity_kwh * 10.0))
        self._last = now

    def pause(self) -> None:
        self._last = None


@dataclass
class PowerStageConfig:
    max_voltage: float = 500.0
    min_voltage: float = 150.0
    max_current: float = 200.0
    min_current: float = 0.0
    max_power: float = 100_000.0
    regulation_tolerance: float = 5.0  # A, EVSECurrentRegulationTolerance
    peak_ripple: float = 2.0  # A, EVSEPeakCurrentRipple
    voltage_ramp: float = 400.0  # V/s
    current_ramp: float = 200.0  # A/s
    dead_time: float = 0.02  # s before a new target starts to take effect
    discharge_rate: float = 800.0  # V/s after switch-off (WeldingDetection sees the voltage fall)
    isolation_time: float = 1.0  # s the insulation test runs (CableCheck Ongoing meanwhile)
    isolation_result: str = "Valid"  # Valid | Warning | Fault | No_IMD (ISO-2)
    ac_nominal_voltage: float = 230.0
    ac_max_current: float = 32.0
    ac_phases: int = 3

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> PowerStageConfig:
        return _from_dict(cls, values)


@dataclass
class PowerStage:
    config: PowerStageConfig = field(default_factory=PowerStageConfig)
    voltage: float = 0.0
    current: float = 0.0
    output_on: bool = False  # contactors closed and converter running
    emergency: bool = False
    energy_wh: float = 0.0
    isolation_started: float | None = None
    _target_v: float = 0.0
    _target_i: float = 0.0
    _effective_at: float = 0.0
    _last: float | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> PowerStage:
        return cls(PowerStageConfig.from_dict(values))

    # ------------------------------------------------------------------ commands

    def set_target(self, voltage: float, current: float, now: float) -> None:
        self.update(now)
        c = self.config
        target_v = max(0.0, min(voltage, c.max_voltage))
        limit = c.max_current if voltage <= 0 else min(c.max_current, c.max_power / max(voltage, 1.0))
        target_i = max(0.0, min(current, limit))
        if abs(target_v - self._target_v) > 0.5 or abs(target_i - self._target_i) > 0.5:
            # A new set point starts to act after the dead time; repeating the same one changes nothing.
            self._effective_at = now + c.dead_time
        self._target_v, self._target_i = target_v, target_i

    def switch_on(self, now: float) -> None:
        self.update(now)
        if not self.emergency:
            self.output_on = True

    def switch_off(self, now: float) -> None:
        self.update(now)
        self.output_on = False
        self._target_i = 0.0

    def emergency_off(self, now: float) -> None:
        self.switch_off(now)
        self.emergency = True
        self.current = 0.0

    def start_isolation_test(self, now: float) -> None:
        if self.isolation_started is None:
            self.isolation_started = now

    def isolation_status(self, now: float) -> str | None:
        """None while the test runs (or has not started), then the configured result."""
        if self.isolation_started is None or now < self.isolation_started + self.config.isolation_time:
            return None
        return self.config.isolation_result

    def limits_hit(self, voltage: float, current: float) -> dict[str, bool]:
        c = self.config
        return {"voltage": voltage > c.max_voltage, "current": current > c.max_current,
                "power": voltage * current > c.max_power}

    # ------------------------------------------------------------------ time

    def update(self, now: float) -> None:
        last = self._last if self._last is not None else now
        dt = max(0.0, now - last)
        self._last = now
        if dt == 0:
            return
        c = self.config
        if self.output_on and not self.emergency:
            active = max(0.0, now - max(last, self._effective_at))  # the part of dt after the dead time
            self.voltage = _toward(self.voltage, self._target_v, c.voltage_ramp * active)
            self.current = _toward(self.current, self._target_i, c.current_ramp * active)
            self.energy_wh += self.voltage * self.current * dt / 3600.0
        else:
            self.current = 0.0
            self.voltage = _toward(self.voltage, 0.0, c.discharge_rate * dt)

    def reset_for_new_session(self) -> None:
        self.isolation_started = None
        self.emergency = False
        self.output_on = False
        self._target_v = self._target_i = 0.0
