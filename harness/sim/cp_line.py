"""The pilot wire of the sim rig: an EVSE-side source (±12 V behind 1 kΩ) and the vehicle's CP circuit.

Whoever drives a side — our generator or load (test-driven), a simulated DUT (`SimCar`, `SimCharger`) or a stack
node through its `CpPort` — changes the line here; the line solves the circuit (`CarCpLoad.pilot_voltage`),
classifies the levels with `stack.cp.classify`, and hands the reading to the `PilotWatch`, which records changes
and tells every subscriber on the runner's clock. (Without a watch — the CP board emulator — it is pure physics.)
"""

from __future__ import annotations

from harness.drivers.cp import CpSetting, PilotWatch
from harness.sim.car_cp import CarCpLoad
from stack import cp


class SimCpLine:
    def __init__(self, watch: PilotWatch | None, load: CarCpLoad | None = None, source_ohm: float = cp.SOURCE_RESISTANCE_OHM,
                 high_v: float = cp.GENERATOR_HIGH_V, low_v: float = cp.GENERATOR_LOW_V) -> None:
        self.watch = watch
        self.load = load if load is not None else CarCpLoad()
        self.source_ohm, self.high_v, self.low_v = source_ohm, high_v, low_v
        self.setting = CpSetting("off")
        self.frequency_hz = cp.PWM_FREQUENCY_HZ  # what the EVSE's oscillator really runs at

    def reading(self) -> cp.CpReading:
        """Solve the circuit for the current oscillator setting and load, and classify it."""
        mode, level = self.setting.mode, self.load.pilot_voltage
        if mode in ("off", "E"):
            return cp.classify(0.0)  # output disabled or driven to 0 V: nothing to divide
        if mode == "dc":
            return cp.classify(level(self.high_v, self.source_ohm))
        if mode == "F":
            return cp.classify(level(self.low_v, self.source_ohm))
        return cp.classify(level(self.high_v, self.source_ohm), level(self.low_v, self.source_ohm),
                           self.setting.duty, self.frequency_hz)

    def update(self) -> cp.CpReading:
        reading = self.reading()
        if self.watch is not None:
            self.watch.update(reading)
        return reading

    def set_oscillator(self, setting: CpSetting) -> None:
        self.setting = setting
        self.update()

    def present(self, state: str) -> None:
        self.load.present(state)
        self.update()

    def set_load_fault(self, fault: str | None) -> None:
        self.load.diode = fault != "no-diode"
        self.load.short_to_pe = fault == "short-to-pe"
        self.update()
