"""Our stack on a bench: `add_evse(bench)` / `add_pev(bench)` build the composite role, put it on the runner and
attach it to the rig's resources (`[ip]`, `[cp]`; SLAC over `[plc]` when asked and available).

    evse = add_evse(bench, protocol="iso2-dc")                 # our charger as the tester
    pev = add_pev(bench, protocol="iso2-dc", dut=True)          # sim rig: our car in the DUT seat
    bench.expect(lambda: pev.done, SESSION_BOUND, "session over")

In the DUT seat (`dut=True`) the bench's `--dut-fault` names that belong to this role (`stack.sessions.fault_sets.
FAULT_SETS`) are applied: their message faults wrap the session machine and their `config` changes its behaviour.
Settings come from `config` (an `EvseConfig`/`PevConfig` dict), on top of the protocol preset; `faults` are
extra message faults for the node (a tester staging a faulty peer).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.bench import Bench
from harness.drivers import ResourceUnavailable
from harness.runtime.runner import Node
from stack.roles import Evse, Pev
from stack.sessions.config import EvseConfig, PevConfig
from stack.sessions.fault_sets import FAULT_SETS
from stack.sessions.faults import Fault


def _faults(bench: Bench, role: str, config: dict[str, Any], dut: bool,
            extra: Iterable[Fault] = ()) -> tuple[list[Fault], dict[str, Any]]:
    faults: list[Fault] = list(extra)
    if not dut:
        return faults, config
    for name in sorted(bench.dut_faults):
        chosen = FAULT_SETS.get(name)
        if chosen is not None and chosen.role == role:
            faults += chosen.faults
            config = chosen.configure(config)
    return faults, config


def _add(bench: Bench, role: str, endpoint: Any, name: str, dut: bool) -> Node:
    ip = bench.resource("ip")
    if getattr(endpoint, "slac", None) is not None:
        mac, ipv6 = bench.resource("plc").address(role)  # a NIC only takes frames for its own MAC
    else:
        mac, ipv6 = ip.addresses(role)
    node = Node(name, endpoint, mac, ipv6, role="dut" if dut else "tester")
    attach: dict[str, dict[str, Any]] = {"ip": {"side": role}}
    if endpoint.config.control_pilot:
        attach["cp"] = {"side": role}
    if getattr(endpoint, "slac", None) is not None:
        attach["plc"] = {"side": role}
    return bench.add_node(node, attach)


def _has_cp(bench: Bench, role: str) -> bool:
    if bench.rig.section("cp") is None:
        return False
    try:
        bench.resource("cp")
    except ResourceUnavailable:
        return False
    return True


def _slac(bench: Bench, role: str, cp: bool) -> Any:
    from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig

    bench.resource("plc")  # skips with `needs plc: ...` when the rig cannot carry HomePlug frames
    return EvseSlac(EvseSlacConfig(wait_for_cp=cp)) if role == "evse" else PevSlac(PevSlacConfig(wait_for_cp=cp))


def add_evse(bench: Bench, *, protocol: str = "din", config: dict[str, Any] | None = None, dut: bool = False,
             slac: bool = False, name: str = "evse", seed: int | None = 1, faults: Iterable[Fault] = ()) -> Evse:
    faults, settings = _faults(bench, "evse", dict(config or {}), dut, faults)
    cp = settings.pop("control_pilot", _has_cp(bench, "evse"))
    evse = Evse(EvseConfig.for_protocol(protocol, control_pilot=cp, **settings), faults=faults,
                slac=_slac(bench, "evse", cp) if slac else None, seed=seed)
    _add(bench, "evse", evse, name, dut)
    return evse


def add_pev(bench: Bench, *, protocol: str = "din", config: dict[str, Any] | None = None, dut: bool = False,
            slac: bool = False, name: str = "pev", faults: Iterable[Fault] = ()) -> Pev:
    faults, settings = _faults(bench, "pev", dict(config or {}), dut, faults)
    cp = settings.pop("control_pilot", _has_cp(bench, "pev"))
    pev = Pev(PevConfig.for_protocol(protocol, control_pilot=cp, **settings), faults=faults,
              slac=_slac(bench, "pev", cp) if slac else None)
    _add(bench, "pev", pev, name, dut)
    return pev
