"""`[plc] transport = "simnet"`: emulated adaptors on veth pairs in network namespaces — the loopback wiring of two
real adaptors, without the adaptors (root; monotonic clock).

`harness.netns.SimNet` gives each side a namespace holding `interface` (veth, default `plc0`); behind each veth's
other end an emulated QCA7420 (`harness.sim.modem.Powerline` in `harness.sim.bridge.HostBridge`) does what the
real adaptor would: answers management MMEs, carries SLAC, bridges IPv6 only inside an AVLN. Our nodes open raw
sockets in their side's namespace exactly as on the `raw` transport, and the same start-up checks run (interface
up, CAP_NET_RAW, adaptor answers, PIB profile of its side), so this rig exercises the hardware path.

The namespaces live for the pytest session (building them takes a few hundred ms); between tests the modems get
fresh random keys (`safe()`) and the rig's attenuation and faults are re-applied, so every test starts alike.
A kernel IP port (SDP, TCP) for a side opens its sockets in `link.namespace(side)` on `link.interface(side)`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from harness.drivers import Check, ResourceUnavailable, register
from harness.drivers.plc import SIDES
from harness.drivers.plc_raw import AdaptorLink, AdaptorSide, checked, ready
from harness.drivers.powerline import COMMON_OPTIONS, apply_settings, build_line, check_options, give_profile
from harness.options import Opt
from harness.sim.modem import Powerline

OPTIONS = {
    "interface": Opt(str, default="plc0", doc="interface name inside each side's namespace"),
    "roles": Opt(list, default=list(SIDES), items=str, doc="the sides (each gets a namespace and a modem)"),
    **COMMON_OPTIONS,
}
CAPABILITIES = {"plc", "plc-emulated", "plc-loopback", "plc-kernel"}


def check(options: dict[str, Any]) -> list[tuple[str, str]]:
    problems = check_options(options)
    unknown = [r for r in options.get("roles", []) if r not in SIDES]
    if unknown or not options.get("roles"):
        problems.append(("plc.roles", f"expected sides out of {', '.join(SIDES)}, got {options.get('roles')}"))
    return problems


def open_net(options: dict[str, Any], session: Any) -> Any:
    """The session's SimNet for these options (built on first use; closed when the session ends)."""

    def opener() -> Any:
        from harness.netns import SimNet, SimNetError

        line = build_line(options)
        try:
            net = SimNet.create(tuple(options["roles"]), line, iface=options["interface"])
        except SimNetError as exc:
            raise ResourceUnavailable("plc", f"simnet: {exc}") from None
        if options["profiles"]:
            with net.bridge.locked():
                for role in net.roles:
                    give_profile(line, f"{role}-modem", role)
        return net

    key = ("simnet", tuple(options["roles"]), options["interface"], repr(options["emulator"]), options["profiles"])
    return session.get(key, opener)


def adaptors_of(net: Any) -> list[AdaptorSide]:
    return [AdaptorSide(role, net.iface, net.ns[role], profile=role) for role in net.roles]


class SimnetPlcLink(AdaptorLink):
    capabilities = frozenset(CAPABILITIES)
    emulated = True

    def __init__(self, bench: Any, options: dict[str, Any], net: Any) -> None:
        super().__init__(bench, "plc simnet", [ready(a, bench.session) for a in adaptors_of(net)])
        self.options, self.net = options, net
        with net.bridge.locked() as line:
            apply_settings(line, options, self.label)

    @property
    def line(self) -> Powerline:
        return self.net.line

    @contextlib.contextmanager
    def emulator(self) -> Iterator[Powerline]:
        with self.net.bridge.locked() as line:
            yield line

    def close(self) -> None:
        super().close()
        with self.net.bridge.locked() as line:  # what a test changed does not leak into the next one
            apply_settings(line, self.options, self.label)


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    try:
        net = open_net(options, ctx.session)
    except ResourceUnavailable as exc:
        return [Check.missing("plc simnet", "plc", exc.why, "run as root with iproute2 installed")]
    checks = [Check.passed("plc simnet", f"namespaces {', '.join(net.ns.values())}, emulated modems "
                           f"{', '.join(sorted(net.line.modems))}")]
    return checks + [check for adaptor in adaptors_of(net) for check in checked(adaptor, ctx.session)]


@register("plc", "simnet", options=OPTIONS, capabilities=CAPABILITIES, check=check, startup=startup)
def build(options: dict[str, Any], bench: Any) -> SimnetPlcLink:
    """Network namespaces + veth + emulated HomePlug GP modems (root)."""
    return SimnetPlcLink(bench, options, open_net(options, bench.session))
