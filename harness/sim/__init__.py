"""Emulators of what is not on the bench: the vehicle's and the charger's CP behaviour, the CP board, (later) the
HomePlug modem pair (modem.py, bridge.py). Each DUT emulator lists the `--dut-fault` names it understands in a module-level `FAULTS`
dict; `FAULT_MODULES` names those modules (later work appends its own)."""

from __future__ import annotations

import importlib

FAULT_MODULES = ["harness.sim.car_cp", "harness.sim.charger_cp"]


def dut_faults() -> dict[str, str]:
    """Every `--dut-fault` name → what it does (prefixed with the emulator it applies to)."""
    known: dict[str, str] = {}
    for name in FAULT_MODULES:
        module = importlib.import_module(name)
        target = name.rsplit(".", 1)[-1]
        for fault, doc in module.FAULTS.items():
            known[fault] = f"{target}: {doc}"
    return known
