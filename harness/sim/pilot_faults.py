"""Control-pilot DUT faults of our high-level-communication roles (`--dut-fault NAME`): a charger or car in the sim
rig's DUT seat that does the session right but drives the pilot wrong when it pauses or stops (ISO 15118-3 §7 /
ISO 15118-2).
(The CP-only simulators have their own faults in `car_cp` / `charger_cp`.)

`apply(bench, role, endpoint, node)` wraps the DUT node's endpoint; called by `harness.nodes` through
`harness.sim.apply_dut_faults`.
"""

from __future__ import annotations

from typing import Any

from stack import sansio as io

FAULTS = {
    "evse-pause-keeps-pwm": "evse DUT: keeps the PWM oscillator on while the session is paused [V2G3-M07-20]",
    "pev-pause-stays-in-c": "pev DUT: keeps the pilot in state C when it pauses the session [V2G3-M07-19]",
    "pev-keeps-s2-closed": "pev DUT: once in state C it never opens S2 again while plugged in [V2G2-848]",
}
FAULT_ROLES = {"evse-pause-keeps-pwm": "evse", "pev-pause-stays-in-c": "pev", "pev-keeps-s2-closed": "pev"}


class _PilotFilter:
    """Our role with some of its pilot outputs held back; everything else is the role's."""

    def __init__(self, endpoint: Any, faults: set[str]) -> None:
        self.endpoint, self.faults, self.pausing, self.closed_s2 = endpoint, faults, False, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["endpoint"], name)

    def next_deadline(self) -> float | None:
        return self.endpoint.next_deadline()

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        if isinstance(event, io.Command) and event.name == "pause":
            self.pausing = True
        elif isinstance(event, io.Command) and event.name == "resume":
            self.pausing = False
        out = self.endpoint.handle(event, now)
        if "evse-pause-keeps-pwm" in self.faults and any(isinstance(o, io.Notify) and o.name == "paused" for o in out):
            out = [o for o in out if not (isinstance(o, io.SetCpOscillator) and o.duty is None and o.state is None)]
        if ("pev-pause-stays-in-c" in self.faults and self.pausing) or \
                ("pev-keeps-s2-closed" in self.faults and self.closed_s2):
            out = [o for o in out if not (isinstance(o, io.SetCpLoad) and o.state == "B")]
        for o in out:
            if isinstance(o, io.SetCpLoad):
                self.closed_s2 = o.state in ("C", "D") or (self.closed_s2 and o.state != "A")
        return out


def apply(bench: Any, role: str, endpoint: Any, node: str) -> None:
    chosen = {name for name in bench.dut_faults if FAULT_ROLES.get(name) == role}
    if chosen:
        runner_node = bench.runner.nodes[node]
        runner_node.endpoint = _PilotFilter(runner_node.endpoint, chosen)
