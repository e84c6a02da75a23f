"""Emulators of what is not on the bench: the vehicle's and the charger's CP behaviour, the CP board, (later) the
HomePlug modem pair (modem.py, bridge.py). Each DUT emulator lists the `--dut-fault` names it understands in a module-level `FAULTS`
dict; `FAULT_MODULES` names those modules (later work appends its own). A module's `DUT_ROLE` ("evse" | "pev")
says which simulated DUT its faults apply to; a module may instead give each fault its role in `FAULT_ROLES`."""

from __future__ import annotations

import importlib

FAULT_MODULES = ["harness.sim.car_cp", "harness.sim.charger_cp", "harness.sim.session_faults"]


def dut_faults() -> dict[str, str]:
    """Every `--dut-fault` name → what it does (prefixed with the emulator it applies to)."""
    known: dict[str, str] = {}
    for name in FAULT_MODULES:
        module = importlib.import_module(name)
        target = name.rsplit(".", 1)[-1]
        for fault, doc in module.FAULTS.items():
            known[fault] = f"{target}: {doc}"
    return known


def fault_roles() -> dict[str, str | None]:
    """Every `--dut-fault` name → the DUT role it makes faulty ("evse" | "pev"), None when its module does not say."""
    roles: dict[str, str | None] = {}
    for name in FAULT_MODULES:
        module = importlib.import_module(name)
        per_fault = getattr(module, "FAULT_ROLES", {})
        for fault in module.FAULTS:
            roles[fault] = per_fault.get(fault, getattr(module, "DUT_ROLE", None))
    return roles
