"""What a bench measures of AC energy on the sim rig: the charger's outlet voltage and the vehicle's current.

A CP test of a charger needs to see when the charger energises and de-energises its outlet (its contactor), and a
CP test of a vehicle needs to see how much current it draws at a given duty. On a real bench a voltage sensor on
the outlet and a current clamp do that (capabilities `evse-output-sense`, `ev-current-sense`; rigs without them skip
those tests). On the sim rig the simulated charger's contactor and the simulated car's draw feed these two
instruments, which record every change on the timeline as `power` records:

- `OutletSense`: `power` / `outlet on` | `outlet off`, src `outlet-sense`, body `{volts}`;
- `EvCurrentMeter`: `power` / `ev current`, src `ev-meter`, body `{amps}`.
"""

from __future__ import annotations

from typing import Any

from harness.records import Record

MAINS_V = 230.0


class OutletSense:
    label = "outlet-sense"

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.energised = False

    def set(self, energised: bool) -> None:
        if energised == self.energised:
            return
        self.energised = energised
        self.runner.timeline.add(Record(t=self.runner.clock.now(), layer="power",
                                        name="outlet on" if energised else "outlet off", src=self.label,
                                        body={"volts": MAINS_V if energised else 0.0}))


class EvCurrentMeter:
    label = "ev-meter"

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.amps = 0.0

    def set(self, amps: float) -> None:
        amps = round(float(amps), 3)
        if amps == self.amps:
            return
        self.amps = amps
        self.runner.timeline.add(Record(t=self.runner.clock.now(), layer="power", name="ev current",
                                        src=self.label, body={"amps": amps}))
