"""`[cp] driver = "sim"`: the simulated pilot line, with our generator and/or load and a simulated DUT.

What sits on each side depends on the test's DUT role:

| dut_role | EVSE side                        | vehicle side                |
|----------|----------------------------------|-----------------------------|
| "pev"    | our generator (`cp` fixture)     | `SimCar` (the DUT)          |
| "evse"   | `SimCharger` (the DUT)           | our load (`cp_load` fixture)|
| none     | our generator                    | our load                    |

A stack node attached to a side (`link.attach(node, side)`) takes that side over from the simulated DUT.
"""

from __future__ import annotations

from typing import Any

from harness.drivers import register
from harness.drivers.cp import CpGenerator, CpLink, CpLoad, CpSetting
from harness.options import Opt
from harness.runtime.runner import Node
from harness.sim import car_cp, charger_cp
from harness.sim.ac_power import EvCurrentMeter, OutletSense
from harness.sim.car_cp import CarCpLoad, SimCar
from harness.sim.charger_cp import SimCharger
from harness.sim.cp_line import SimCpLine
from stack import cp

CAPABILITIES = {"cp-generator", "cp-load", "cp-measurement", "cp-pwm-measurement", "cp-load-faults", "sim-dut",
                "evse-output-sense", "ev-current-sense"}


class SimCpGenerator(CpGenerator):
    def __init__(self, line: SimCpLine, label: str = "cp-generator", max_current_a: float | None = None) -> None:
        super().__init__(label, can_measure=True, max_current_a=max_current_a)
        self.line = line

    def _apply(self, setting: CpSetting) -> None:
        self.line.set_oscillator(setting)

    def _measure(self) -> cp.CpReading:
        return self.line.update()

    def _safe(self) -> None:
        self.line.set_oscillator(CpSetting("off"))


class SimCpLoad(CpLoad):
    def __init__(self, line: SimCpLine, label: str = "cp-load") -> None:
        super().__init__(label, can_measure=True, can_fault=True)
        self.line = line

    def _set_state(self, state: str) -> None:
        self.line.present(state)

    def _set_fault(self, fault: str | None) -> None:
        self.line.set_load_fault(fault)

    def _measure(self) -> cp.CpReading:
        return self.line.update()

    def _safe(self) -> None:
        self.line.load.diode, self.line.load.short_to_pe = True, False
        self.line.present("A")


class SimCpLink(CpLink):
    def __init__(self, bench: Any, options: dict[str, Any]) -> None:
        runner = bench.runner
        super().__init__(runner)
        role, faults, scale = bench.dut_role, set(bench.dut_faults), bench.rig.time_scale
        car_faults = faults & set(car_cp.FAULTS) if role == "pev" else set()
        load = CarCpLoad.from_options(options["car"], car_faults)
        self.line = SimCpLine(self.watch, load, options["source_ohm"], options["high_v"], options["low_v"])
        if role != "evse":
            self.generator = SimCpGenerator(self.line, max_current_a=bench.rig.limits.get("max_current_a"))
        if role != "pev":
            self.load = SimCpLoad(self.line)
        dut = bench.rig.dut
        # a bench's outlet voltage sense (charger DUT) and current clamp (vehicle DUT), fed by the simulated DUT
        self.outlet: OutletSense | None = None
        self.ev_meter: EvCurrentMeter | None = None
        if role == "pev":
            self.ev_meter = EvCurrentMeter(runner)
            self.dut = SimCar(runner, self.line, options["car"], car_faults, scale, hlc=dut["hlc"],
                              meter=self.ev_meter)
        elif role == "evse":
            self.outlet = OutletSense(runner)
            self.dut = SimCharger(runner, self.line, options["charger"], faults & set(charger_cp.FAULTS), scale,
                                  max_current_a=dut["max_current_a"] or 16.0, hlc=dut["hlc"], outlet=self.outlet)
        for instrument in self.instruments():
            instrument.bind(runner.timeline, runner.clock)

    def start(self) -> None:
        self.line.update()
        if self.dut is not None:
            self.dut.start()

    def attach(self, node: Node, side: str) -> None:
        """As `CpLink.attach`; a node on the DUT's side replaces the simulated DUT there."""
        if side == "evse" and self.generator is None:
            if isinstance(self.dut, SimCharger):
                self.dut.detach()
                self.dut = None
                self.outlet = None
            self.generator = SimCpGenerator(self.line, label=f"{node.name}-cp")
            self.generator.bind(self.runner.timeline, self.runner.clock)
        if side == "pev" and self.load is None:
            if isinstance(self.dut, SimCar):
                self.line.watch.unsubscribe(self.dut.observe)
                self.dut = None
                self.ev_meter = None
            self.load = SimCpLoad(self.line, label=f"{node.name}-cp")
            self.load.bind(self.runner.timeline, self.runner.clock)
        super().attach(node, side)


@register("cp", "sim", capabilities=CAPABILITIES, simulated=True, options={
    "source_ohm": Opt(float, default=cp.SOURCE_RESISTANCE_OHM, min=1, doc="EVSE source resistor"),
    "high_v": Opt(float, default=cp.GENERATOR_HIGH_V, doc="EVSE positive level"),
    "low_v": Opt(float, default=cp.GENERATOR_LOW_V, doc="EVSE negative level"),
    "car": Opt(dict, default={}, schema=car_cp.CAR_OPTIONS, doc="the simulated vehicle (DUT role pev)"),
    "charger": Opt(dict, default={}, schema=charger_cp.CHARGER_OPTIONS, doc="the simulated charger (DUT role evse)"),
})
def build(options: dict[str, Any], bench: Any) -> SimCpLink:
    """Simulated pilot line with a simulated car or charger as DUT."""
    return SimCpLink(bench, options)
