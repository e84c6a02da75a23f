"""`[ip] transport = "kernel"`: SDP and TCP through the kernel on a real interface (hardware rigs, simnet).

Each node's MAC and link-local address are the interface's own (`harness.runtime.kernel_ip`). One-sided rigs
name `interface`; loopback rigs `evse_interface` / `pev_interface`. On namespace rigs the sockets open inside
`evse_netns` / `pev_netns`, or, with `netns_from_plc = true`, the interface and namespace of each side of the
bench's `[plc]` link (`PlcLink.interface(side)` / `.namespace(side)`: simnet). A missing interface or address skips the test (`needs ip: ...`).
"""

from __future__ import annotations

from typing import Any

from harness.drivers import ResourceUnavailable, register
from harness.options import Opt
from harness.runtime.kernel_ip import KernelIpError, KernelIpPort, link_local_address, mac_address
from harness.runtime.netns import NetnsError, inside
from harness.runtime.runner import Node


class KernelIp:
    def __init__(self, bench: Any, options: dict[str, Any]) -> None:
        self.bench, self.options = bench, options
        self.ports: list[KernelIpPort] = []

    def _where(self, side: str) -> tuple[str, str | None]:
        iface = self.options.get(f"{side}_interface") or self.options.get("interface")
        netns = self.options.get(f"{side}_netns")
        if self.options.get("netns_from_plc"):
            plc = self.bench.resource("plc")
            iface = plc.interface(side) or iface
            netns = netns or plc.namespace(side)
        if not iface:
            raise ResourceUnavailable("ip", f"rig {self.bench.rig.name}: no [ip] interface for the {side} side")
        return iface, netns

    def addresses(self, side: str) -> tuple[str, str]:
        iface, netns = self._where(side)
        try:
            with inside(netns):
                return mac_address(iface), link_local_address(iface)
        except (KernelIpError, NetnsError) as exc:
            raise ResourceUnavailable("ip", str(exc)) from None

    def attach(self, node: Node, side: str) -> None:
        iface, netns = self._where(side)
        try:
            self.ports.append(KernelIpPort.attach(self.bench.runner, node, iface, netns))
        except (KernelIpError, NetnsError) as exc:
            raise ResourceUnavailable("ip", str(exc)) from None

    def close(self) -> None:
        for port in self.ports:
            port.close()
        self.ports.clear()


@register("ip", "kernel", capabilities={"ip", "ip-kernel"}, options={
    "interface": Opt(str, doc="interface of the link to the DUT (one-sided rigs)"),
    "evse_interface": Opt(str, doc="loopback rigs: the EVSE side's interface"),
    "pev_interface": Opt(str, doc="loopback rigs: the PEV side's interface"),
    "evse_netns": Opt(str, doc="network namespace of the EVSE side's interface"),
    "pev_netns": Opt(str, doc="network namespace of the PEV side's interface"),
    "netns_from_plc": Opt(bool, default=False, doc="take interface and namespace per side from [plc] (simnet)"),
})
def build(options: dict[str, Any], bench: Any) -> KernelIp:
    """The kernel's IPv6 sockets on real interfaces."""
    return KernelIp(bench, options)
