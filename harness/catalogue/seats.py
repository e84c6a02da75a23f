"""Who sits in the DUT seat of a catalogue test, by the rig's `[dut] kind`.

- `simulated` (the `sim` rig) and `our-stack` (simnet, loopback): our own stack in the other role, built by
  `harness.nodes` (on `sim` with the `--dut-fault` sets of that role applied);
- `vehicle`, `charger`: a real device outside the harness — nothing to build, the tester talks to it;
- anything else: a seat registered with `register_seat(kind, factory)`, e.g. a reference implementation started in
  a subprocess (the Josev rigs). A factory gets `(bench, role, protocol, config, slac)` and returns a `Seat`.

A seat can be commanded (`command(name)`: the charger's stop button, the car's stop) only when the harness
controls it; a test that needs that on a rig whose DUT it cannot control is skipped with `needs dut-control`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.bench import Bench

EXTERNAL_KINDS = ("vehicle", "charger")
OUR_STACK_KINDS = ("simulated", "our-stack")


@dataclass
class Seat:
    """The DUT as the catalogue sees it. `endpoint` is our stack when it sits there (None otherwise)."""

    kind: str
    endpoint: Any = None
    node: str | None = None  # runner node name, when the DUT runs on the bench's runner
    commands: Callable[[str], None] | None = None  # how to command it, when the harness can
    configurable: bool = False  # the test's `dut=` settings reach it
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def controllable(self) -> bool:
        return self.commands is not None

    def command(self, name: str) -> None:
        if self.commands is None:
            raise RuntimeError(f"the DUT ({self.kind}) cannot be commanded from the harness")
        self.commands(name)


SeatFactory = Callable[[Bench, str, str, dict[str, Any], bool], Seat]
_SEATS: dict[str, SeatFactory] = {}
# Modules that register the seats of the DUT kinds ccs-hil ships (imported when a rig first needs them)
SEAT_MODULES = {"josev-secc": "harness.josev", "josev-evcc": "harness.josev"}


def register_seat(kind: str, factory: SeatFactory) -> None:
    """Make rigs whose `[dut] kind` is `kind` fill the DUT seat with `factory(bench, role, protocol, config, slac)`."""
    _SEATS[kind] = factory


def _our_stack(bench: Bench, role: str, protocol: str, config: dict[str, Any], slac: bool) -> Seat:
    from harness.nodes import add_evse, add_pev

    add = add_evse if role == "evse" else add_pev
    name = f"dut-{role}"
    endpoint = add(bench, protocol=protocol, config=config, dut=True, slac=slac, name=name)
    return Seat(bench.rig.dut["kind"], endpoint, name, lambda command: bench.runner.command(name, command),
                configurable=True)


def fill_seat(bench: Bench, role: str, protocol: str, config: dict[str, Any], slac: bool) -> Seat:
    """Put the DUT in its seat for one test (see module docstring)."""
    kind = bench.rig.dut["kind"]
    if kind in OUR_STACK_KINDS:
        return _our_stack(bench, role, protocol, config, slac)
    if kind not in _SEATS and kind in SEAT_MODULES:
        importlib.import_module(SEAT_MODULES[kind])
    if kind in _SEATS:
        return _SEATS[kind](bench, role, protocol, config, slac)
    if kind not in EXTERNAL_KINDS:
        raise ValueError(f"rig {bench.rig.name}: no DUT seat for [dut] kind {kind!r} "
                         f"(register one with harness.catalogue.seats.register_seat)")
    return Seat(kind)
