"""The session-level DUT faults (`stack.sessions.faults.FAULT_SETS`: SDP, SupportedAppProtocol, DIN 70121 and
ISO 15118-2 messages and behaviour) in the `--dut-fault` registry. `harness.nodes` applies them to our stack in
the DUT seat; the sets themselves live with the stack because they are built from its fault actions."""

from __future__ import annotations

from stack.sessions.fault_sets import FAULT_SETS

FAULTS = {name: f"{s.role} DUT: {s.description} [{s.requirement}]" for name, s in FAULT_SETS.items()}
FAULT_ROLES = {name: s.role for name, s in FAULT_SETS.items()}
