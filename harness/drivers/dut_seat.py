"""Our CP simulators in the DUT seat of a hardware loopback rig (`[dut] kind = "our-stack"`).

On the loopback rig one CP board carries both circuits: the EVSE's (oscillator) and the vehicle's (R2/R3,
diode). A test plays one side; the other is the device under test, which on this rig is our own simulator of
that role, driving the *real* instrument on its side — `SimCar` switching the board's vehicle load when the
test's DUT is a vehicle, `SimCharger` driving its oscillator when the DUT is a charger — and seeing the pilot
only as the instruments measure it. So a catalogue test runs unchanged, on hardware, against a DUT that passes.

`InstrumentLine` gives the simulators the `line` they know from the sim rig (`present`, `set_oscillator`,
`setting`, `load.presented`, `watch`), made of a `CpGenerator`/`CpLoad`. Each action is followed by a
measurement, so the pilot change is on the timeline at once rather than at the next poll. A stack node attached
to the DUT's side takes the seat over (the simulator leaves, the instrument is the node's).
"""

from __future__ import annotations

from typing import Any

from harness.drivers.cp import CpGenerator, CpLink, CpLoad, CpSetting


class _LoadView:
    def __init__(self, load: CpLoad) -> None:
        self._load = load

    @property
    def presented(self) -> str:
        return self._load.state


class InstrumentLine:
    def __init__(self, link: CpLink, generator: CpGenerator | None = None, load: CpLoad | None = None) -> None:
        self.link, self.generator, self._load = link, generator, load
        self.watch = link.watch
        self.load = _LoadView(load) if load is not None else None

    @property
    def setting(self) -> CpSetting:
        assert self.generator is not None
        return self.generator.setting

    def set_oscillator(self, setting: CpSetting) -> None:
        assert self.generator is not None
        self.generator.apply(setting)
        self.link.measure()

    def present(self, state: str) -> None:
        assert self._load is not None
        self._load.set_state(state)
        self.link.measure()


def seat_simulated_dut(link: CpLink, bench: Any, car_options: dict[str, Any], charger_options: dict[str, Any]) -> None:
    """Put the CP simulator of the test's DUT role on the DUT's side of `link` (both sides must be real)."""
    from harness.sim.car_cp import SimCar
    from harness.sim.charger_cp import SimCharger

    if bench.rig.dut["kind"] != "our-stack" or link.generator is None or link.load is None:
        return
    role, dut, scale = bench.dut_role, bench.rig.dut, bench.rig.time_scale
    if role == "pev":
        load, link.load = link.load, None  # the vehicle side belongs to the DUT now
        load.label = f"dut {load.label}"
        link.dut_instrument = load
        link.dut = SimCar(bench.runner, InstrumentLine(link, load=load), car_options, set(), scale, hlc=dut["hlc"])
    elif role == "evse":
        generator, link.generator = link.generator, None
        generator.label = f"dut {generator.label}"
        link.dut_instrument = generator
        link.dut = SimCharger(bench.runner, InstrumentLine(link, generator=generator), charger_options, set(), scale,
                              max_current_a=dut["max_current_a"] or 16.0, hlc=dut["hlc"])


def release_seat(link: CpLink, side: str) -> None:
    """A node attached to the DUT's side replaces the simulator: the instrument goes back to the link."""
    from harness.sim.car_cp import SimCar
    from harness.sim.charger_cp import SimCharger

    instrument = getattr(link, "dut_instrument", None)
    if instrument is None:
        return
    if side == "pev" and isinstance(link.dut, SimCar):
        link.watch.unsubscribe(link.dut.observe)
        link.load = instrument
    elif side == "evse" and isinstance(link.dut, SimCharger):
        link.dut.detach()
        link.generator = instrument
    else:
        return
    instrument.label = instrument.label.removeprefix("dut ")
    link.dut, link.dut_instrument = None, None
