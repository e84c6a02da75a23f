"""`[plc] transport = "raw"`: real HomePlug Green PHY adaptors on named interfaces, through raw sockets.

One-sided rigs (a car or a charger as DUT) have one adaptor: `interface` (its side is our stack's role, or
`side`). Loopback rigs have two, wired to each other's coax/mains: `evse_interface` and `pev_interface`. Each side
may live in its own network namespace (`netns`, `evse_netns`, `pev_netns`) — on a loopback rig it has to for V2G:
two link-local addresses in one namespace talk through the kernel's loopback, never through the adaptors.

Per side the driver checks, once per pytest session and before any test (`startup`), and again (cached) when a
test first builds the link:

1. the interface exists, is up and has carrier (the adaptor is powered and cabled),
2. the process may open raw sockets (CAP_NET_RAW),
3. the local adaptor answers VS_SW_VER (and is `modem_mac` / runs `firmware`, when the rig says so),
4. its PIB carries the profile of its side (SLAC role, CCo selection, user HFID — `profile = "any"` skips),
   else the run aborts with the exact `ccs-hil modem pib-write ... --profile <side>` command that fixes it;
5. it takes a fresh random NMK (whatever key a killed earlier run left in it, there is no AVLN until SLAC).

`safe()` sends each adaptor a fresh random NMK (CM_SET_KEY.REQ to the local modem 00:b0:52:00:00:01).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from harness.clock import MonotonicClock
from harness.drivers import Check, InstrumentError, ResourceUnavailable, RigMismatch, register
from harness.drivers.plc import (
    SIDES,
    PlcLink,
    T_key_reset,
    has_cap_net_raw,
    in_netns,
    interface_facts,
    interfaces_here,
    link_local,
    modem_exchange,
    random_nmk,
    set_key_ops,
)
from harness.options import Opt
from harness.runtime.raw_l2 import L2PortError, PrivilegeError, RawL2Port
from harness.runtime.runner import Node, Runner
from stack.homeplug import frames as f
from stack.homeplug import modem as m
from stack.homeplug import pib as pibmod
from stack.homeplug.keys import derive_nid
from stack.timers import SpecTimer

PROFILE_CHOICES = ("evse", "pev", "any")
T_adaptor_probe = SpecTimer("T_adaptor_probe", 3 * m.TT_modem_response.seconds,
                            "ccs-hil: VS_SW_VER + PIB read at start-up (3 × TT_modem_response per request)")

OPTIONS = {
    "interface": Opt(str, doc="one-sided rigs: the interface of our adaptor"),
    "side": Opt(str, choices=SIDES, doc="one-sided rigs: the role of our adaptor (default: the rig's stack_role)"),
    "netns": Opt(str, doc="one-sided rigs: network namespace the interface lives in"),
    "modem_mac": Opt(str, doc="expected MAC of our adaptor (checked at start-up)"),
    "profile": Opt(str, choices=PROFILE_CHOICES, doc="PIB profile the adaptor must carry (default: its side)"),
    "evse_interface": Opt(str, doc="loopback rigs: interface of the EVSE-side adaptor"),
    "pev_interface": Opt(str, doc="loopback rigs: interface of the PEV-side adaptor"),
    "evse_netns": Opt(str), "pev_netns": Opt(str),
    "evse_modem_mac": Opt(str), "pev_modem_mac": Opt(str),
    "evse_profile": Opt(str, choices=PROFILE_CHOICES), "pev_profile": Opt(str, choices=PROFILE_CHOICES),
    "firmware": Opt(str, doc="regular expression the adaptor's VS_SW_VER version must match"),
}


def check_options(options: dict[str, Any]) -> list[tuple[str, str]]:
    one, pair = options.get("interface"), (options.get("evse_interface"), options.get("pev_interface"))
    if one and any(pair):
        return [("plc.interface", "give either interface (one adaptor) or evse_interface + pev_interface (loopback)")]
    if not one and not all(pair):
        missing = "pev_interface" if pair[0] else "evse_interface" if pair[1] else "interface"
        return [(f"plc.{missing}", "missing (interface for one adaptor, or evse_interface and pev_interface)")]
    return []


def capabilities(options: dict[str, Any]) -> set[str]:
    caps = {"plc", "plc-hardware"}
    if options.get("evse_interface") and options.get("pev_interface"):
        caps.add("plc-loopback")
    return caps


# --------------------------------------------------------------------------- one adaptor


@dataclass(frozen=True)
class AdaptorSide:
    """One side of a link on an interface: where its adaptor is and what it must be."""

    side: str
    interface: str
    netns: str | None = None
    modem_mac: str | None = None  # expected MAC of the local adaptor
    profile: str = "evse"  # evse | pev | any
    firmware: str | None = None

    @property
    def label(self) -> str:
        where = f"{self.interface}" + (f" in {self.netns}" if self.netns else "")
        return f"plc {self.side} ({where})"

    def cli(self, args: str) -> str:
        """The `ccs-hil` command line that acts on this adaptor."""
        prefix = f"ip netns exec {self.netns} " if self.netns else "sudo "
        return f"{prefix}ccs-hil modem {args} --iface {self.interface}"

    def open_port(self, runner: Runner, node: Node, modem_macs: tuple[str, ...] = ()) -> RawL2Port:
        with in_netns(self.netns):
            try:
                return RawL2Port(runner, node, self.interface, (f.QUALCOMM_LOCAL_MAC, *modem_macs))
            except PrivilegeError as exc:
                raise ResourceUnavailable("plc", f"{self.label}: {exc.why}") from None
            except L2PortError as exc:
                raise ResourceUnavailable("plc", f"{self.label}: {exc.why}") from None

    def exchange(self, ops: list[m.Op], limit: SpecTimer, mac: str) -> list[dict[str, Any]]:
        return modem_exchange(MonotonicClock(), lambda runner, node: self.open_port(runner, node), mac, ops, limit)

    # ------------------------------------------------------------------ start-up checks

    def checks(self) -> list[Check]:
        """The checks in order; the first that fails ends the list (the later ones need it)."""
        out: list[Check] = []
        for step in (self._check_interface, self._check_privilege, self._check_adaptor, self._reset_key):
            found = step()
            out.extend(found)
            if not all(c.ok for c in found):
                break
        return out

    def _check_interface(self) -> list[Check]:
        name = f"{self.label}: interface"
        try:
            facts = interface_facts(self.interface, self.netns)
        except ResourceUnavailable as exc:
            return [Check.missing(name, "plc", exc.why, "create the namespace, or fix plc.*netns in the rig file")]
        if not facts.exists:
            here = ", ".join(interfaces_here(self.netns))
            return [Check.missing(name, "plc", f"interface {facts.where} does not exist (here: {here})",
                                  "plug the adaptor's Ethernet in, or correct the interface name in the rig file")]
        if not facts.up:
            return [Check.missing(name, "plc", f"interface {facts.where} is down",
                                  ("ip -n " + self.netns if self.netns else "sudo ip") +
                                  f" link set {self.interface} up")]
        if not facts.running:
            return [Check.missing(name, "plc", f"interface {facts.where} has no carrier",
                                  "power the adaptor and check its Ethernet cable")]
        return [Check.passed(name, f"{facts.where} up, carrier, MAC {facts.mac}")]

    def _check_privilege(self) -> list[Check]:
        name = f"{self.label}: raw sockets"
        if not has_cap_net_raw():
            return [Check.missing(name, "plc", "this process lacks CAP_NET_RAW, so it cannot open raw sockets",
                                  "run as root, or `sudo setcap cap_net_raw+ep $(readlink -f .venv/bin/python3)`")]
        return [Check.passed(name, "CAP_NET_RAW present")]

    def _check_adaptor(self) -> list[Check]:
        name = f"{self.label}: adaptor"
        mac = interface_facts(self.interface, self.netns).mac
        ops = [m.version()] + ([m.pib_read()] if self.profile != "any" else [])
        try:
            results = self.exchange(ops, T_adaptor_probe, mac)
        except ResourceUnavailable as exc:
            return [Check.missing(name, "plc", exc.why)]
        version = results[0] if results else {"ok": False, "error": "no answer"}
        if not version.get("ok") or version.get("op") != "version":
            return [Check.missing(name, "plc", f"no HomePlug adaptor answered VS_SW_VER on {self.interface} within "
                                  f"{m.TT_modem_response} ({version.get('error', 'no answer')})",
                                  f"is the adaptor powered and on this interface? try `{self.cli('list')}`")]
        found = f"{version['mac']} {version['device']} firmware {version['version']}"
        if self.modem_mac and version["mac"].lower() != self.modem_mac.lower():
            return [Check.wrong(name, f"the adaptor on {self.interface} is {version['mac']}, the rig file names "
                                f"{self.modem_mac}", "correct plc.*modem_mac, or plug in the adaptor it names")]
        if self.firmware and not re.search(self.firmware, version["version"]):
            return [Check.wrong(name, f"adaptor {found} does not match plc.firmware = {self.firmware!r}",
                                "flash the expected firmware, or correct plc.firmware in the rig file")]
        out = [Check.passed(name, found)]
        if self.profile == "any":
            return out
        name = f"{self.label}: PIB profile"
        pib = results[1] if len(results) > 1 else {"ok": False, "error": "no answer"}
        if not pib.get("ok"):
            return out + [Check.missing(name, "plc", f"could not read the adaptor's PIB ({pib.get('error')})",
                                        f"set plc profile = \"any\" to skip this check, or try `{self.cli('info')}`")]
        problem = profile_problem(pib["pib"], self.profile)
        if problem:
            return out + [Check.wrong(name, f"adaptor {version['mac']}: {problem}",
                                      self.cli(f"pib-write --profile {self.profile}"))]
        return out + [Check.passed(name, f"{self.profile.upper()} profile (SLAC role, CCo selection, user HFID)")]

    def _reset_key(self) -> list[Check]:
        """Start from the known state: a fresh random NMK, whatever a killed earlier run left in the adaptor."""
        name = f"{self.label}: key"
        mac = interface_facts(self.interface, self.netns).mac
        nmk = random_nmk()
        results = self.exchange(set_key_ops(nmk), T_key_reset, mac)
        if not all(r.get("ok") for r in results) or not results:
            error = "; ".join(str(r.get("error", r)) for r in results if not r.get("ok")) or "no answer"
            return [Check.missing(name, "plc", f"the adaptor did not take a fresh key ({error})",
                                  f"try `{self.cli('reset')}`")]
        return [Check.passed(name, f"fresh random NMK set (NID {derive_nid(nmk).hex()}): no AVLN until SLAC")]

    def require(self) -> AdaptorSide:
        """Raise for the first failed check (ResourceUnavailable: skip; RigMismatch: abort)."""
        for check in self.checks():
            check.raise_if_failed()
        return self


def profile_problem(pib: bytes, profile: str) -> str | None:
    """None when the PIB carries `profile`'s settings, else what it has instead (in words)."""
    wrong = [edit for edit in pibmod.PROFILES[profile] if pib[edit.offset: edit.offset + len(edit.data)] != edit.data]
    if not wrong:
        return None
    summary = pibmod.summary(pib)
    role = {1: "PEV", 2: "EVSE"}.get(summary["slac_role"], f"{summary['slac_role']} (neither)")
    has = (f"SLAC role {role}, CCo selection {summary['cco_selection']}, user HFID {summary['user_hfid']!r}")
    differs = ", ".join(edit.what for edit in wrong)
    return f"PIB has {has}; the {profile} side needs the {profile.upper()} profile ({differs})"


# --------------------------------------------------------------------------- the link


def sides_of(options: dict[str, Any], rig: Any) -> list[AdaptorSide]:
    if options.get("interface"):
        side = options.get("side") or (rig.stack_role if rig.stack_role in SIDES else None)
        if side is None:
            raise RigMismatch(f"rig {rig.name}: one PLC adaptor but stack_role = {rig.stack_role!r}",
                              "set plc.side = \"evse\" or \"pev\" (the adaptor's role)")
        return [AdaptorSide(side, options["interface"], options.get("netns"), options.get("modem_mac"),
                            options.get("profile") or side, options.get("firmware"))]
    return [AdaptorSide(side, options[f"{side}_interface"], options.get(f"{side}_netns"),
                        options.get(f"{side}_modem_mac"), options.get(f"{side}_profile") or side,
                        options.get("firmware")) for side in SIDES]


class AdaptorLink(PlcLink):
    """A link whose sides are interfaces with an adaptor (real, or emulated behind a veth)."""

    def __init__(self, bench: Any, label: str, sides: list[AdaptorSide]) -> None:
        super().__init__(bench, label)
        self.adaptors = {a.side: a for a in sides}
        self.ports: list[RawL2Port] = []
        self._macs: dict[str, str] = {}

    @property
    def sides(self) -> tuple[str, ...]:
        return tuple(self.adaptors)

    def interface(self, side: str) -> str | None:
        self._check_side(side)
        return self.adaptors[side].interface

    def namespace(self, side: str) -> str | None:
        self._check_side(side)
        return self.adaptors[side].netns

    def _address(self, side: str) -> tuple[str, str]:
        if side not in self._macs:
            adaptor = self.adaptors[side]
            facts = interface_facts(adaptor.interface, adaptor.netns)
            if not facts.exists:
                raise ResourceUnavailable("plc", f"{adaptor.label}: interface does not exist")
            self._macs[side] = facts.mac
        return self._macs[side], link_local(self._macs[side])

    def _attach(self, node: Node, side: str, **kw: Any) -> None:
        if kw:
            raise TypeError(f"{self.label}: unknown attach option(s) {', '.join(kw)}")
        adaptor = self.adaptors[side]
        extra = (adaptor.modem_mac,) if adaptor.modem_mac else ()
        self.ports.append(adaptor.open_port(self.bench.runner, node, extra))

    def _reset_key(self, side: str, modem: str, nmk: bytes) -> list[dict[str, Any]]:
        mac, _ = self._address(side)
        return self.adaptors[side].exchange(set_key_ops(nmk), T_key_reset, mac)

    def close(self) -> None:
        for port in self.ports:
            port.close()
        self.ports.clear()
        super().close()


def ready(adaptor: AdaptorSide, session: Any) -> AdaptorSide:
    """The adaptor's start-up checks, run once per session (a failure is remembered and re-raised)."""
    return session.get(("plc-adaptor", adaptor), adaptor.require)


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    try:
        adaptors = sides_of(options, ctx.rig)
    except RigMismatch as exc:
        return [Check.wrong("plc", str(exc).split("\n")[0], exc.fix)]
    return [check for adaptor in adaptors for check in checked(adaptor, ctx.session)]


def checked(adaptor: AdaptorSide, session: Any) -> list[Check]:
    """Run the adaptor's checks and remember the outcome for the session, so a test that needs the adaptor
    skips (or the run aborts) at once instead of probing again."""
    found = adaptor.checks()
    failed = next((c for c in found if not c.ok), None)

    def outcome() -> AdaptorSide:
        if failed is not None:
            failed.raise_if_failed()
        return adaptor

    with contextlib.suppress(ResourceUnavailable, InstrumentError):  # remembered; the checks say it already
        session.get(("plc-adaptor", adaptor), outcome)
    return found


@register("plc", "raw", options=OPTIONS, capabilities=capabilities, check=check_options, startup=startup)
def build(options: dict[str, Any], bench: Any) -> AdaptorLink:
    """Real HomePlug GP adaptors on named interfaces (raw sockets; root or CAP_NET_RAW)."""
    adaptors = [ready(adaptor, bench.session) for adaptor in sides_of(options, bench.rig)]
    if not adaptors:
        raise InstrumentError("plc raw: no adaptor configured")
    return AdaptorLink(bench, "plc raw", adaptors)
