"""Shared helpers for the HomePlug/SLAC tests: captures, an in-process bench, a minimal CP wire, pyslac lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.clock import VirtualClock
from harness.runtime import Node, Runner
from harness.sim.modem import ModemMedium
from stack import sansio as io
from tests.captures import CAPTURES

IONIQ = CAPTURES / "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"
COMPLEO = CAPTURES / "2023-04-19_compleo_pyPlc_lightbulb_failedBadRegulation.pcapng"
TAYCAN = CAPTURES / "2023-05-03_TaycanLeftside_slacFail.pcapng"
PYPLC_MAC = "dc:0e:a1:11:67:08"  # the PC running pyPLC in all three captures

EVSE_MAC, PEV_MAC, EVSE2_MAC = "02:00:00:00:00:0e", "02:00:00:00:00:0f", "02:00:00:00:00:1e"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth, raw sockets)")


def homeplug_frames(path: Path) -> list[tuple[float, bytes]]:
    if not path.exists():
        pytest.skip(f"capture {path} not found (shared/ beside the checkout)")
    from scapy.utils import rdpcap

    packets = rdpcap(str(path))
    t0 = float(packets[0].time)
    return [(float(p.time) - t0, bytes(p)) for p in packets if bytes(p)[12:14] == b"\x88\xe1"]


class CpWire:
    """The smallest CP model that lets SLAC run in process: what the EVSE drives, both sides observe.

    (The skeleton's CP simulator replaces this in rig-level tests; SLAC only needs state + duty.)"""

    def __init__(self, runner: Runner) -> None:
        self.runner, self.state, self.duty, self.nodes = runner, "A", None, []

    def attach(self, node: Node) -> None:
        self.nodes.append(node)
        node.cp = self

    def apply(self, out, now: float) -> None:
        if isinstance(out, io.SetCpOscillator):
            self.duty = out.duty
            if out.state in ("E", "F"):
                self._broadcast(out.state, None)
                return
            if self.state in ("E", "F"):
                self.state = "B"
        elif isinstance(out, io.SetCpLoad):
            self.state = out.state
        self._broadcast(self.state, self.duty)

    def plug(self, state: str = "B") -> None:
        self.state = state
        self._broadcast(state, self.duty)

    def _broadcast(self, state: str, duty) -> None:
        for node in self.nodes:
            self.runner.deliver(node, io.CpObserved(state, duty))


class Bench:
    """Runner on the virtual clock + modem emulator + CP wire; nodes added by role."""

    def __init__(self, **line_options) -> None:
        self.runner = Runner(VirtualClock())
        self.medium = ModemMedium(self.runner, **line_options)
        self.line = self.medium.line
        self.cp = CpWire(self.runner)
        self.nodes: dict[str, Node] = {}

    def add(self, name: str, endpoint, mac: str, cp: bool = True) -> Node:
        node = self.runner.add(Node(name, endpoint, mac, f"fe80::{len(self.nodes) + 1}"))
        self.medium.attach(node, modem=f"{name}-modem")
        if cp:
            self.cp.attach(node)
        self.nodes[name] = node
        return node

    def run(self, until, seconds: float):
        from stack.timers import SpecTimer

        return self.runner.run(until, SpecTimer("test bound", seconds))

    def states(self, node: str) -> list[str]:
        return [r.name for r in self.runner.timeline.select(layer="state") if r.src == node]

    def sent(self, node: str, name: str) -> list:
        return [r for r in self.runner.timeline.select(name=name, layer="homeplug") if r.src == self.nodes[node].mac]

    def record(self, node: str, name: str):
        found = [r for r in self.runner.timeline.select(name=name, layer="state") if r.src == node]
        return found[-1] if found else None
