"""`[plc] transport = "inproc"`: the HomePlug modem emulator as the sim rig's in-process L2 medium.

Every attached node gets its own emulated QCA7420 modem (`harness.sim.modem.ModemMedium` on the bench's runner,
so on the virtual clock SLAC takes exact, repeatable virtual time and no real time). The modem is named after the
node's side (`evse-modem`, `pev-modem`) — or after the node when that side already has one (a second EVSE for
cross-talk: `evse2-modem`), or as `attach(node, modem="...")` says. Attenuation between modems and faults come from
the rig file (see `harness.drivers.powerline`) or from a test: `with link.emulator() as line: line.add_fault(...)`.

IP between nodes on this rig goes through `harness.runtime.inproc.InprocIpFabric(runner, medium=link.medium)`,
which carries datagrams and streams only between nodes whose modems share an NMK (after SLAC).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from harness.drivers import register
from harness.drivers.plc import (
    ROLE_MACS,
    SIDES,
    PlcLink,
    T_key_reset,
    link_local,
    modem_exchange,
    set_key_ops,
)
from harness.drivers.powerline import (
    COMMON_OPTIONS,
    apply_settings,
    build_line,
    check_options,
    give_profile,
    modem_name,
)
from harness.runtime.runner import Node, Runner
from harness.sim.modem import ModemMedium, Powerline

CAPABILITIES = {"plc", "plc-emulated", "plc-loopback"}


class InprocPlcLink(PlcLink):
    capabilities = frozenset(CAPABILITIES)
    emulated = True
    _mac_must_match = False  # an emulated modem serves whatever host MAC talks to it

    def __init__(self, bench: Any, options: dict[str, Any]) -> None:
        super().__init__(bench, "plc inproc")
        self.options = options
        self.line: Powerline = build_line(options)
        apply_settings(self.line, options, self.label)
        self.medium = ModemMedium(bench.runner, line=self.line)
        self.modem_of: dict[str, tuple[str, str]] = {}  # node name -> (side, modem name)

    @property
    def sides(self) -> tuple[str, ...]:
        return SIDES

    def _address(self, side: str) -> tuple[str, str]:
        return ROLE_MACS[side], link_local(ROLE_MACS[side])

    def _attach(self, node: Node, side: str, modem: str | None = None, **kw: Any) -> None:
        if kw:
            raise TypeError(f"{self.label}: unknown attach option(s) {', '.join(kw)}")
        taken = {name for _, name in self.modem_of.values()}
        name = modem_name(modem) if modem else modem_name(side)
        if modem is None and name in taken:
            name = modem_name(node.name)
        fresh = name not in self.line.modems
        self.medium.attach(node, modem=name)
        if fresh and self.options["profiles"]:
            give_profile(self.line, name, side)
        self.modem_of[node.name] = (side, name)

    @contextlib.contextmanager
    def emulator(self) -> Iterator[Powerline]:
        yield self.line

    def modems_in_use(self) -> list[tuple[str, str]]:
        return sorted(set(self.modem_of.values()))

    def _reset_key(self, side: str, modem: str, nmk: bytes) -> list[dict[str, Any]]:
        host = next((n.mac for n in self.nodes.get(side, [])), ROLE_MACS[side])

        def open_port(runner: Runner, node: Node) -> None:
            ModemMedium(runner, line=self.line).attach(node, modem=modem)

        # the bench's clock: on the virtual clock the exchange takes its (tiny) virtual time, nothing real
        return modem_exchange(self.bench.clock, open_port, host, set_key_ops(nmk), T_key_reset)


@register("plc", "inproc", options=COMMON_OPTIONS, capabilities=CAPABILITIES, simulated=True,
          check=check_options)
def build(options: dict[str, Any], bench: Any) -> InprocPlcLink:
    """In-process HomePlug GP modem emulator, one modem per node (sim rig, virtual clock)."""
    return InprocPlcLink(bench, options)
