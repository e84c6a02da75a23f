"""Test wiring: our EVSE and PEV on one runner with in-process IP and a minimal in-process control pilot."""

from __future__ import annotations

from dataclasses import dataclass

from harness.clock import VirtualClock
from harness.runtime import InprocIpFabric, Node, Runner
from stack import sansio as io
from stack.roles import Evse, Pev
from stack.sessions.config import EvseConfig, PevConfig
from stack.timers import SpecTimer

EVSE_MAC, EVSE_IP = "02:00:00:00:00:0e", "fe80::e"
PEV_MAC, PEV_IP = "02:00:00:00:00:0b", "fe80::b"


class InprocPilot:
    """The pilot wire between the two nodes: the EVSE's oscillator and the PEV's load decide the state both see.

    Deliberately small (no resistor network): the skeleton's CP model replaces it in benches."""

    def __init__(self, runner: Runner, latency: float = 0.001, max_load: str | None = None) -> None:
        self.runner, self.latency = runner, latency
        self.max_load = max_load  # a broken vehicle circuit: loads beyond this state have no effect
        self.load, self.duty, self.forced = "A", None, None
        self.nodes: list[Node] = []
        self.history: list[tuple[float, str, float | None]] = []

    def attach(self, node: Node) -> None:
        self.nodes.append(node)
        node.cp = _PilotPort(self)

    def apply(self, out, now: float) -> None:
        if isinstance(out, io.SetCpOscillator):
            self.duty, self.forced = out.duty, out.state
        elif self.max_load is not None and out.state > self.max_load:
            self.load = self.max_load
        else:
            self.load = out.state
        state = self.forced or self.load
        self.history.append((now, state, self.duty))
        for node in self.nodes:
            self.runner.deliver(node, io.CpObserved(state, self.duty), at=now + self.latency)


@dataclass
class _PilotPort:
    pilot: InprocPilot

    def apply(self, out, now: float) -> None:
        self.pilot.apply(out, now)


@dataclass
class Pair:
    runner: Runner
    evse: Evse
    pev: Pev
    pilot: InprocPilot | None

    def run(self, seconds: float = 600.0, until=None):
        until = until or (lambda: self.pev.done)
        return self.runner.run(until, SpecTimer("test bound", seconds))

    def names(self, direction: str | None = None) -> list[str]:
        return [r.name for r in self.runner.timeline.select(layer="exi")
                if direction is None or r.src == direction]

    def state(self, name: str):
        return self.runner.timeline.select(name=name, layer="state")


def make_pair(protocol: str = "din", evse: dict | None = None, pev: dict | None = None, *, evse_faults=(),
              pev_faults=(), cp: bool = True, dut: str | None = None, latency: float = 0.0005,
              max_load: str | None = None, evse_protocol: str | None = None, slac: bool = False) -> Pair:
    """Our EVSE and PEV on one virtual-clock runner; `slac=True` puts the modem emulator between them (IP flows
    only once SLAC has given both modems the same NMK)."""
    runner = Runner(VirtualClock())
    medium = None
    if slac:
        from harness.sim.modem import ModemMedium

        medium = ModemMedium(runner)
    fabric = InprocIpFabric(runner, latency, medium=medium)
    evse_config = EvseConfig.for_protocol(evse_protocol or protocol, control_pilot=cp, **(evse or {}))
    pev_config = PevConfig.for_protocol(protocol, control_pilot=cp, **(pev or {}))
    evse_slac = pev_slac = None
    if slac:
        from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig

        evse_slac = EvseSlac(EvseSlacConfig(wait_for_cp=cp))
        pev_slac = PevSlac(PevSlacConfig(wait_for_cp=cp))
    evse_role = Evse(evse_config, faults=evse_faults, seed=1, slac=evse_slac)
    pev_role = Pev(pev_config, faults=pev_faults, slac=pev_slac)
    evse_node = runner.add(Node("evse", evse_role, EVSE_MAC, EVSE_IP, role="dut" if dut == "evse" else "tester"))
    pev_node = runner.add(Node("pev", pev_role, PEV_MAC, PEV_IP, role="dut" if dut == "pev" else "tester"))
    fabric.attach(evse_node)
    fabric.attach(pev_node)
    if medium is not None:
        medium.attach(evse_node)
        medium.attach(pev_node)
    pilot = None
    if cp:
        pilot = InprocPilot(runner, max_load=max_load)
        pilot.attach(evse_node)
        pilot.attach(pev_node)
    return Pair(runner, evse_role, pev_role, pilot)


def exi(pair: Pair, name: str | None = None, sender: str | None = None):
    """exi records of the run (optionally one message name, or those sent by 'pev'/'evse')."""
    ip = {"pev": PEV_IP, "evse": EVSE_IP}.get(sender or "")
    return [r for r in pair.runner.timeline.select(layer="exi")
            if (name is None or r.name == name) and (ip is None or r.src == ip)]


def collapse(names: list[str]) -> list[str]:
    """Consecutive repeats (loops) folded into one entry."""
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


def body(record) -> dict:
    from stack.sessions.messages import body_of

    return body_of(record.body)


def ended(pair: Pair, party: str):
    """The last session_end Notify of a party ('evse' | 'pev')."""
    found = [r for r in pair.runner.timeline.select(name="session_end", layer="state") if r.src == party]
    return found[-1] if found else None


def findings(pair: Pair, party: str | None = None):
    return [r for r in pair.runner.timeline.select(name="peer_error", layer="state")
            if party is None or r.src == party]
