"""The simulated charger on the control pilot (the DUT when a test has `dut_role("evse")` on the sim rig).

It behaves as an IEC 61851-1 EVSE: +12 V (X1) while no vehicle is connected; a reaction time after it sees B it
starts the 1 kHz PWM with the duty for its current limit (or 5 % when it does high-level communication); when
the vehicle unplugs it stops the PWM; when the vehicle's diode is found missing it signals F for a while and then
stays at X1 until the vehicle is unplugged (a latched fault). A basic-charging charger (no high-level communication)
closes its contactor a moment after the vehicle asks for energy (C/D at a nominal duty) and opens it at once when
the vehicle leaves C/D (C→B, unplugging), on E/F or a missing diode; the outlet's voltage is what a bench's outlet
sense sees (`harness.sim.ac_power.OutletSense`). Its reactions run on the runner's clock. `--dut-fault` names in
`FAULTS` make it misbehave.
"""

from __future__ import annotations

from typing import Any

from harness.drivers.cp import CpSetting
from harness.options import Opt
from harness.runtime.runner import Runner
from stack import cp

DUT_ROLE = "evse"  # these faults make the simulated charger the faulty DUT
FAULTS = {
    "no-pwm": "the charger never starts PWM",
    "pwm-without-vehicle": "the charger runs the PWM while no vehicle is connected",
    "wrong-duty": "the charger signals 2 percentage points more duty than its current limit",
    "pwm-when-unplugged": "the charger keeps the PWM on after the vehicle unplugs",
    "slow-pwm-stop": "the charger stops the PWM only 1 s after the vehicle unplugs",
    "no-state-f": "the charger does not signal F when the vehicle's diode is missing",
    "pwm-1100hz": "the charger's PWM runs at 1.1 kHz (outside 1 kHz ± 2 %)",
    "slow-energise": "the charger closes its contactor only 5 s after the vehicle asks for energy (B→C)",
    "energises-in-b": "the charger energises the outlet as soon as it offers PWM, with the vehicle still in B",
    "slow-deenergise": "the charger opens its contactor only 1 s after the vehicle leaves C (C→B, unplug) or on E",
    "ignores-state-e": "the charger keeps PWM and power on when the CP is shorted to PE (state E)",
}

CHARGER_OPTIONS = {
    "pwm_delay_s": Opt(float, default=0.2, min=0, doc="B seen → PWM on"),
    "off_delay_s": Opt(float, default=0.02, min=0, doc="A seen → PWM off"),
    "state_f_s": Opt(float, default=0.3, min=0, doc="how long F is shown after a fault"),
    "energise_s": Opt(float, default=0.5, min=0, doc="C/D seen at a nominal duty → contactor closed"),
    "deenergise_s": Opt(float, default=0.02, min=0, doc="C/D left, E/F or a fault seen → contactor open"),
}


class SimCharger:
    def __init__(self, runner: Runner, line: Any, options: dict[str, Any], faults: set[str],
                 time_scale: float = 1.0, max_current_a: float = 16.0, hlc: bool = False,
                 outlet: Any = None) -> None:
        self.runner, self.line, self.faults = runner, line, faults
        self.pwm_delay = options["pwm_delay_s"] * time_scale
        self.off_delay = options["off_delay_s"] * time_scale
        self.state_f = options["state_f_s"] * time_scale
        self.energise_delay = (5.0 if "slow-energise" in faults else options["energise_s"]) * time_scale
        self.deenergise_delay = (1.0 if "slow-deenergise" in faults else options["deenergise_s"]) * time_scale
        self.outlet = outlet  # the outlet's voltage as a bench senses it (None: nobody watches)
        self.contactor = False
        self._contactor_pending: bool | None = None
        self.max_current_a = max_current_a  # from the rig's [dut] table: one source of truth for the tests
        self.hlc = hlc
        self.latched = False
        self.attached = True
        self._pending: CpSetting | None = None

    @property
    def nominal_duty(self) -> float:
        duty = cp.DIGITAL_COMMUNICATION_DUTY if self.hlc else cp.duty_for_current(self.max_current_a)
        return duty + 2.0 if "wrong-duty" in self.faults else duty

    def start(self) -> None:
        if "pwm-1100hz" in self.faults:
            self.line.frequency_hz = 1100.0
        idle = CpSetting("pwm", self.nominal_duty) if "pwm-without-vehicle" in self.faults else CpSetting("dc")
        self.line.set_oscillator(idle)
        self.line.watch.subscribe(self.observe)

    def detach(self) -> None:
        """Leave the EVSE side to someone else (a stack node attached later)."""
        self.attached = False
        self.line.watch.unsubscribe(self.observe)
        self._switch(False)

    # ------------------------------------------------------------------ contactor

    def _switch(self, closed: bool) -> None:
        self._contactor_pending = None
        self.contactor = closed
        if self.outlet is not None:
            self.outlet.set(closed)

    def _contactor_later(self, closed: bool, delay: float) -> None:
        if self.contactor == closed and self._contactor_pending is None:
            return
        if self._contactor_pending == closed:
            return
        self._contactor_pending = closed

        def fire() -> None:
            if self._contactor_pending == closed and self.attached:
                self._switch(closed)

        self.runner.call_at(self.runner.clock.now() + delay, fire)

    def _contactor(self, reading: cp.CpReading) -> None:
        """Basic charging: energise while the vehicle asks for energy at a nominal duty, else de-energise."""
        mode = self.line.setting.mode
        nominal = mode == "pwm" and cp.interpret_duty(self.line.setting.duty).kind == "current"
        wants = reading.state in ("C", "D") and reading.fault in (None, "frequency") and nominal
        if nominal and reading.state == "B" and "energises-in-b" in self.faults:
            wants = True
        if reading.state == "E" and "ignores-state-e" in self.faults and (self.contactor or self._contactor_pending):
            wants = True
        if wants:
            self._contactor_later(True, self.energise_delay if not self.contactor else 0.0)
        elif self.contactor or self._contactor_pending:
            self._contactor_later(False, self.deenergise_delay)

    def _later(self, delay: float, setting: CpSetting, then: Any = None) -> None:
        if self._pending == setting:
            return
        self._pending = setting

        def fire() -> None:
            if self._pending != setting or not self.attached:
                return
            self._pending = None
            self.line.set_oscillator(setting)
            if then is not None:
                then()

        self.runner.call_at(self.runner.clock.now() + delay, fire)

    def observe(self, reading: cp.CpReading) -> None:
        self._contactor(reading)
        mode = self.line.setting.mode
        if mode == "F":
            return  # showing F; the end of the F period decides what comes next
        if reading.state == "A":
            self.latched = False
            if mode == "pwm" and not {"pwm-when-unplugged", "pwm-without-vehicle"} & self.faults:
                self._later(1.0 if "slow-pwm-stop" in self.faults else self.off_delay, CpSetting("dc"))
            return
        if reading.fault == "diode" and mode == "pwm":
            if "no-state-f" not in self.faults:
                self.latched = True
                self._later(self.off_delay, CpSetting("F"),
                            then=lambda: self._later(self.state_f, CpSetting("dc")))
            return
        if reading.state == "E" and mode == "pwm" and "ignores-state-e" not in self.faults:
            self._later(self.off_delay, CpSetting("dc"))
            return
        if reading.state in ("B", "C", "D") and mode == "dc" and not self.latched and "no-pwm" not in self.faults:
            self._later(self.pwm_delay, CpSetting("pwm", self.nominal_duty))
