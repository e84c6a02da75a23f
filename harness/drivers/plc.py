"""PLC links as the bench sees them, whatever carries the frames (modem emulator in process, emulated modems on
veth, real HomePlug Green PHY adaptors on NICs).

A `[plc]` driver factory returns a `PlcLink`. It has one or more *sides* (`"evse"`, `"pev"`): where a node of that
role plugs in — its own emulated modem, a namespace's veth, or the NIC of a real adaptor.

    link = bench.resource("plc")
    mac, ipv6 = link.address("evse")              # the host addresses a node on that side must use
    bench.add_node(Node("evse", EvseSlac(...), mac, ipv6), attach={"plc": {"side": "evse"}, "cp": {"side": "evse"}})
    link.sides                                     # ("evse",) on a one-adaptor rig, ("evse", "pev") on loopbacks
    link.interface("pev"), link.namespace("pev")   # for a kernel IP port on that side (None in process)
    link.medium                                    # in process: the L2Medium an in-process IP fabric gates on
    with link.emulator() as line: line.add_fault(Fault("drop", ...))   # emulated modems only

`attach(node, side=None)`: without `side`, a tester node takes our stack's role and a DUT node (`role="dut"`)
the other one. A node whose `mac`/`ipv6` are empty gets the side's addresses; a different MAC is refused (a NIC
drops unicast frames for a MAC that is not its own).

Safety: `safe()` gives every modem of every side used a fresh random NMK (CM_SET_KEY.REQ to the local modem,
checked from its CM_SET_KEY.CNF), so the next test starts from "no AVLN" — the known state — and no peer keeps
a key it learned here. It runs on a private runner, so it is safe to call from a signal handler while the bench's
own runner is in the middle of a step.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.clock import Clock
from harness.drivers import InstrumentError, ResourceUnavailable
from harness.records import Record
from harness.runtime.runner import Node, Runner, RunnerError
from stack.homeplug import frames as f
from stack.homeplug import modem as m
from stack.homeplug.keys import derive_nid
from stack.homeplug.timers import TT_modem_response
from stack.timers import SpecTimer

SIDES = ("evse", "pev")
OTHER = {"evse": "pev", "pev": "evse"}
ROLE_MACS = {"evse": "02:cc:00:00:00:0e", "pev": "02:cc:00:00:00:0f"}
T_key_reset = SpecTimer("T_key_reset", 3 * TT_modem_response.seconds,
                        "ccs-hil: CM_SET_KEY.REQ → CNF for the safe-state key (3 × TT_modem_response)")
CAP_NET_RAW = 13
_SIOCGIFFLAGS = 0x8913
_SIOCGIFHWADDR = 0x8927
_IFF_UP = 0x1
_IFF_RUNNING = 0x40


class PlcLinkError(RunnerError):
    """A node cannot be attached as asked (unknown side, wrong MAC)."""


def link_local(mac: str) -> str:
    """The EUI-64 link-local IPv6 address of an interface with this MAC."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return "fe80::" + ":".join(f"{(eui[i] << 8) | eui[i + 1]:x}" for i in range(0, 8, 2))


def random_nmk() -> bytes:
    return os.urandom(16)


# --------------------------------------------------------------------------- interface facts (namespace aware)


@contextlib.contextmanager
def in_netns(ns: str | None) -> Iterator[None]:
    """Run the block in network namespace `ns` (None: where we are)."""
    if ns is None:
        yield
        return
    if not os.path.exists(f"/run/netns/{ns}"):
        raise ResourceUnavailable("plc", f"network namespace {ns!r} does not exist (ip netns list)")
    from harness.netns import inside

    with inside(ns):
        yield


@dataclass(frozen=True)
class InterfaceFacts:
    name: str
    netns: str | None
    exists: bool
    up: bool = False
    running: bool = False  # carrier: the adaptor is powered and its Ethernet side is connected
    mac: str = ""

    @property
    def where(self) -> str:
        return f"{self.name!r}" + (f" in network namespace {self.netns}" if self.netns else "")


def interface_facts(name: str, netns: str | None = None) -> InterfaceFacts:
    """Exists / up / carrier / MAC of an interface, asked of the kernel in its namespace (ioctl, no /sys)."""
    with in_netns(netns):
        try:
            socket.if_nametoindex(name)
        except OSError:
            return InterfaceFacts(name, netns, exists=False)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("16sH", name.encode()[:15], 0).ljust(40, b"\x00")
            flags = struct.unpack_from("H", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request), 16)[0]
            hw = fcntl.ioctl(sock.fileno(), _SIOCGIFHWADDR, struct.pack("256s", name.encode()[:15]))
    mac = ":".join(f"{b:02x}" for b in hw[18:24])
    return InterfaceFacts(name, netns, True, bool(flags & _IFF_UP), bool(flags & _IFF_RUNNING), mac)


def interfaces_here(netns: str | None = None) -> list[str]:
    with in_netns(netns):
        return sorted(name for _, name in socket.if_nameindex())


def has_cap_net_raw() -> bool:
    """Whether this process may open raw sockets (effective CAP_NET_RAW; root normally has it)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_NET_RAW & 1)
    except OSError:
        pass
    return os.geteuid() == 0


# --------------------------------------------------------------------------- modem management on a private runner


PortOpener = Callable[[Runner, Node], Any]  # gives the node its L2 port; returns something with close() or None


def modem_exchange(clock: Clock, open_port: PortOpener, mac: str, ops: list[m.Op], limit: SpecTimer
                   ) -> list[dict[str, Any]]:
    """Run modem-management operations (stack.homeplug.modem) for one host on a runner of their own, bounded by
    `limit`; returns the results (an operation that did not finish is reported as not ok)."""
    runner = Runner(clock)
    client = m.ModemClient(list(ops))
    node = runner.add(Node("modem-management", client, mac, ""))
    port = open_port(runner, node)
    try:
        runner.run(lambda: client.done, limit)
    finally:
        if port is not None and hasattr(port, "close"):
            port.close()
    results = list(client.results)
    if not client.done:
        results.append({"op": "exchange", "ok": False, "error": f"no answer within {limit}"})
    return results


# --------------------------------------------------------------------------- the link


class PlcLink(ABC):
    """Base of the `[plc]` resources. Subclasses give `sides`, `_address`, `_attach`, `_key_reset_port`."""

    capabilities: frozenset[str] = frozenset()
    emulated = False

    def __init__(self, bench: Any, label: str) -> None:
        self.bench = bench
        self.label = label
        self.nodes: dict[str, list[Node]] = {}
        self.closed = False

    # ------------------------------------------------------------------ what the link offers

    @property
    @abstractmethod
    def sides(self) -> tuple[str, ...]: ...

    def address(self, side: str) -> tuple[str, str]:
        """(MAC, link-local IPv6) a node on this side must use."""
        self._check_side(side)
        return self._address(side)

    def interface(self, side: str) -> str | None:
        """The network interface of this side (None in process)."""
        self._check_side(side)
        return None

    def namespace(self, side: str) -> str | None:
        """The network namespace of this side's interface (None: the harness's own)."""
        self._check_side(side)
        return None

    medium: Any = None  # in process: the L2Medium (InprocIpFabric gates IP on it)

    @contextlib.contextmanager
    def emulator(self) -> Iterator[Any]:
        """The emulated powerline (`harness.sim.modem.Powerline`: faults, attenuation), locked while in use."""
        raise ResourceUnavailable("plc-emulated", f"{self.label}: the modems are real adaptors, not emulated")
        yield  # pragma: no cover

    # ------------------------------------------------------------------ nodes

    def default_side(self, node: Node) -> str:
        ours = self.bench.rig.stack_role if self.bench.rig.stack_role in SIDES else None
        if ours is None and self.bench.dut_role in SIDES:
            ours = OTHER[self.bench.dut_role]
        if ours is None:
            raise PlcLinkError(f"{self.label}: say which side node {node.name!r} is on (attach plc side=\"evse\" "
                               "or \"pev\"): the rig plays either role and the test names no DUT role")
        return OTHER[ours] if node.role == "dut" else ours

    def attach(self, node: Node, side: str | None = None, **kw: Any) -> None:
        """Give a runner node its L2 port on `side` (see the module docstring for the default)."""
        side = side or self.default_side(node)
        self._check_side(side)
        mac, ipv6 = self._address(side)
        if not node.mac:
            node.mac = mac
        if not node.ipv6:
            node.ipv6 = ipv6
        if self._mac_must_match and node.mac.lower() != mac.lower():
            raise PlcLinkError(f"{self.label}: node {node.name!r} has MAC {node.mac} but the {side} side's interface "
                               f"has {mac}; build the node with link.address({side!r})")
        self._attach(node, side, **kw)
        self.nodes.setdefault(side, []).append(node)

    _mac_must_match = True

    def _check_side(self, side: str) -> None:
        if side not in self.sides:
            raise PlcLinkError(f"{self.label}: no {side!r} side (this link has {', '.join(self.sides)})")

    @abstractmethod
    def _address(self, side: str) -> tuple[str, str]: ...

    @abstractmethod
    def _attach(self, node: Node, side: str, **kw: Any) -> None: ...

    # ------------------------------------------------------------------ safety

    def modems_in_use(self) -> list[tuple[str, str]]:
        """(side, modem label) pairs whose keys `safe()` resets: by default one local modem per side."""
        return [(side, side) for side in self.sides]

    def safe(self) -> None:
        """A fresh random NMK in every modem of this link; raises InstrumentError naming each that failed."""
        errors = []
        for side, modem in self.modems_in_use():
            nmk = random_nmk()
            try:
                results = self._reset_key(side, modem, nmk)
            except (ResourceUnavailable, InstrumentError, OSError, RunnerError) as exc:
                results = [{"op": "set_key", "ok": False, "error": str(exc)}]
            ok = bool(results) and all(r.get("ok") for r in results)
            body = {"side": side, "modem": modem, "nid": derive_nid(nmk).hex(), "ok": ok}
            error = None if ok else "; ".join(str(r.get("error", r)) for r in results if not r.get("ok"))
            self._record("modem key reset", body, error)
            if not ok:
                errors.append(f"{self.label} {side} modem {modem}: key reset failed ({error})")
        if errors:
            raise InstrumentError("; ".join(errors))

    @abstractmethod
    def _reset_key(self, side: str, modem: str, nmk: bytes) -> list[dict[str, Any]]: ...

    def _record(self, name: str, body: dict[str, Any], error: str | None = None) -> None:
        bench = self.bench
        bench.timeline.add(Record(t=bench.clock.now(), layer="homeplug", name=name, src=self.label, body=body,
                                  error=error))

    def close(self) -> None:
        self.closed = True


def set_key_ops(nmk: bytes, target: str = f.QUALCOMM_LOCAL_MAC) -> list[m.Op]:
    return [m.set_key(nmk, target)]
