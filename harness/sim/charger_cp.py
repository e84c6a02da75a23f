"""The simulated charger on the control pilot (the DUT when a test has `dut_role("evse")` on the sim rig).

It behaves as an IEC 61851-1 EVSE: +12 V (X1) while no vehicle is connected; a reaction time after it sees B it
starts the 1 kHz PWM with the duty for its current limit (or 5 % when it does high-level communication); when
the vehicle unplugs it stops the PWM; when the vehicle's diode is found missing it signals F for a while and then
stays at X1 until the vehicle is unplugged (a latched fault). Its reactions run on the runner's clock.
`--dut-fault` names in `FAULTS` make it misbehave.
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
}

CHARGER_OPTIONS = {
    "pwm_delay_s": Opt(float, default=0.2, min=0, doc="B seen → PWM on"),
    "off_delay_s": Opt(float, default=0.02, min=0, doc="A seen → PWM off"),
    "state_f_s": Opt(float, default=0.3, min=0, doc="how long F is shown after a fault"),
}


class SimCharger:
    def __init__(self, runner: Runner, line: Any, options: dict[str, Any], faults: set[str],
                 time_scale: float = 1.0, max_current_a: float = 16.0, hlc: bool = False) -> None:
        self.runner, self.line, self.faults = runner, line, faults
        self.pwm_delay = options["pwm_delay_s"] * time_scale
        self.off_delay = options["off_delay_s"] * time_scale
        self.state_f = options["state_f_s"] * time_scale
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
        idle = CpSetting("pwm", self.nominal_duty) if "pwm-without-vehicle" in self.faults else CpSetting("dc")
        self.line.set_oscillator(idle)
        self.line.watch.subscribe(self.observe)

    def detach(self) -> None:
        """Leave the EVSE side to someone else (a stack node attached later)."""
        self.attached = False
        self.line.watch.unsubscribe(self.observe)

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
        if reading.state == "E" and mode == "pwm":
            self._later(self.off_delay, CpSetting("dc"))
            return
        if reading.state in ("B", "C", "D") and mode == "dc" and not self.latched and "no-pwm" not in self.faults:
            self._later(self.pwm_delay, CpSetting("pwm", self.nominal_duty))
