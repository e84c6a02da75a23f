"""`[ip] transport = "inproc"`: IPv6 between in-process nodes (the sim rig), on the runner's virtual clock.

UDP (unicast, ff02::1) and TCP as ordered byte pipes with a fixed one-way latency (`harness.runtime.inproc`).
When the bench's `[plc]` resource is an in-process medium with a modem emulator, IP flows only between nodes
whose emulated modems share an NMK (after SLAC), as on the real link; nodes that do not run SLAC (no modem) talk
over a plain link.
"""

from __future__ import annotations

import contextlib
from typing import Any

from harness.drivers import ResourceUnavailable, register
from harness.options import Opt
from harness.runtime.inproc import InprocIpFabric
from harness.runtime.runner import Node

ADDRESSES = {"evse": ("02:00:00:00:00:0e", "fe80::e"), "pev": ("02:00:00:00:00:0b", "fe80::b")}


class InprocIp:
    def __init__(self, bench: Any, options: dict[str, Any]) -> None:
        medium = None
        if bench.rig.section("plc") is not None:
            with contextlib.suppress(ResourceUnavailable):
                medium = getattr(bench.resource("plc"), "medium", None)
        self.fabric = InprocIpFabric(bench.runner, options["latency_ms"] / 1000.0,
                                     medium=_LinkGate(medium) if medium is not None else None)
        self._extra = 0

    def addresses(self, side: str) -> tuple[str, str]:
        """MAC and link-local address for a node of this side (a second node of a side gets the next ones)."""
        if side in ADDRESSES and not any(n.ipv6 == ADDRESSES[side][1] for n in self.fabric.nodes):
            return ADDRESSES[side]
        self._extra += 1
        return f"02:00:00:00:01:{self._extra:02x}", f"fe80::1:{self._extra:x}"

    def attach(self, node: Node, side: str | None = None) -> None:
        self.fabric.attach(node)


class _LinkGate:
    """The PLC medium decides reachability between nodes that both have a modem on it (they ran SLAC); a node
    without one (a session started with --no-slac semantics) is on a plain link."""

    def __init__(self, medium: Any) -> None:
        self.medium = medium

    def reachable(self, a: Node, b: Node) -> bool:
        modems = getattr(self.medium, "modem_of_node", {})
        if a.name in modems and b.name in modems:
            return bool(self.medium.reachable(a, b))
        return True


@register("ip", "inproc", simulated=True, capabilities={"ip"}, options={
    "latency_ms": Opt(float, default=0.5, min=0, doc="one-way latency of the in-process IPv6 fabric"),
})
def build(options: dict[str, Any], bench: Any) -> InprocIp:
    """In-process IPv6 fabric (UDP and TCP) for the sim rig."""
    return InprocIp(bench, options)
