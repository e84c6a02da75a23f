"""Network namespaces + veth pairs + the modem emulator: the `simnet` rig's real kernel network.

    with SimNet.build(roles=("evse", "pev")) as net:
        net.ns["evse"]        # namespace name, e.g. "ccs-4711-1-evse"
        net.iface             # interface name inside each namespace ("plc0", with net.mac[role])
        net.line              # the Powerline (emulated modems "evse-modem", "pev-modem"), faults go here
        with net.inside("pev"):  # open sockets in that namespace (they stay there afterwards)
            ...

Per role: namespace `ccs-<pid>-<n>-<role>` holding `plc0` (MAC fixed per role, IPv6 link-local up at once:
DAD off), whose veth peer `ccs<n><r><pid>` stays in the root namespace (IPv6 off there) where `HostBridge` runs
the emulated modem for it. Names carry the pid and a counter, so parallel runs do not clash; `cleanup_stale()`
removes leftovers of dead processes. Teardown runs on every exit path: the context manager, `atexit`, and SIGTERM
(closes every live SimNet, then exits 143). Needs root (`SimNetError` says so otherwise).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.sim.bridge import HostBridge
from harness.sim.modem import Powerline

CLONE_NEWNET = 0x40000000
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
IFACE = "plc0"
ROLE_MACS = {"evse": "02:cc:00:00:00:0e", "pev": "02:cc:00:00:00:0f", "evse2": "02:cc:00:00:00:1e",
             "pev2": "02:cc:00:00:00:1f"}
_counter = itertools.count(1)
_live: list[SimNet] = []


class SimNetError(RuntimeError):
    """The namespaces could not be built (not root, `ip` missing, kernel without veth/netns)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        raise SimNetError("the `ip` command (iproute2) is not installed") from None
    if check and result.returncode != 0:
        raise SimNetError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def require_root() -> None:
    if os.geteuid() != 0:
        raise SimNetError("the simnet rig needs root (network namespaces, veth pairs, raw sockets)")


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise SimNetError(f"setns failed: {os.strerror(err)}")


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    """Run the block in network namespace `ns` (this thread only); sockets opened here stay in `ns`."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def cleanup_stale() -> list[str]:
    """Delete `ccs-<pid>-…` namespaces whose process is gone (a killed run); returns what was removed."""
    removed = []
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        match = re.match(r"(ccs-(\d+)-\d+-\w+)", line)
        if match and not os.path.exists(f"/proc/{match.group(2)}"):
            _ip("netns", "del", match.group(1), check=False)
            removed.append(match.group(1))
    return removed


@dataclass
class SimNet:
    roles: tuple[str, ...]
    tag: str
    line: Powerline
    ns: dict[str, str] = field(default_factory=dict)
    peer: dict[str, str] = field(default_factory=dict)  # root-side veth end per role
    mac: dict[str, str] = field(default_factory=dict)
    bridge: HostBridge | None = None
    iface: str = IFACE
    closed: bool = False

    @classmethod
    @contextlib.contextmanager
    def build(cls, roles: tuple[str, ...] = ("evse", "pev"), line: Powerline | None = None) -> Iterator[SimNet]:
        net = cls.create(roles, line)
        try:
            yield net
        finally:
            net.close()

    @classmethod
    def create(cls, roles: tuple[str, ...] = ("evse", "pev"), line: Powerline | None = None,
               iface: str = IFACE) -> SimNet:
        require_root()
        _install_signal_handler()
        tag = f"{os.getpid()}-{next(_counter)}"
        net = cls(tuple(roles), tag, line or Powerline(latency=0.0002), iface=iface)
        _live.append(net)
        try:
            for index, role in enumerate(roles):
                net._add_role(index, role)
            net.bridge = HostBridge(net.line, {net.peer[r]: f"{r}-modem" for r in roles})
            net.bridge.start()
        except BaseException:
            net.close()
            raise
        return net

    def _add_role(self, index: int, role: str) -> None:
        ns = f"ccs-{self.tag}-{role}"
        short = self.tag.replace("-", "")[-9:]
        peer, tmp = f"ccs{index}l{short}", f"ccs{index}t{short}"
        self.ns[role], self.peer[role] = ns, peer
        self.mac[role] = ROLE_MACS.get(role, f"02:cc:00:00:01:{index:02x}")
        _ip("netns", "add", ns)
        _ip("link", "add", peer, "type", "veth", "peer", "name", tmp)
        _ip("link", "set", tmp, "netns", ns)
        _ip("-n", ns, "link", "set", tmp, "name", self.iface)
        _ip("-n", ns, "link", "set", self.iface, "address", self.mac[role])
        _sysctl(ns, f"net.ipv6.conf.{self.iface}.accept_dad", "0")
        with inside(ns):
            _disable_tx_checksum_offload(self.iface)
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "set", self.iface, "up")
        _sysctl(None, f"net.ipv6.conf.{peer}.disable_ipv6", "1")
        _ip("link", "set", peer, "up")
        if f"{role}-modem" not in self.line.modems:
            self.line.add_modem(f"{role}-modem")

    def inside(self, role: str):
        return inside(self.ns[role])

    def link_local(self, role: str) -> str:
        """The EUI-64 link-local IPv6 address of `plc0` in that role's namespace."""
        octets = [int(x, 16) for x in self.mac[role].split(":")]
        octets[0] ^= 0x02
        eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
        groups = [f"{(eui[i] << 8) | eui[i + 1]:x}" for i in range(0, 8, 2)]
        return "fe80::" + ":".join(groups)

    def exec_args(self, role: str) -> list[str]:
        """Prefix to run a program in that namespace: `[*net.exec_args("evse"), "python", ...]`."""
        return ["ip", "netns", "exec", self.ns[role]]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.bridge is not None:
            self.bridge.stop()
        for role in self.roles:
            if role in self.ns:
                _ip("netns", "del", self.ns[role], check=False)
            if role in self.peer:
                _ip("link", "del", self.peer[role], check=False)
        if self in _live:
            _live.remove(self)


def _sysctl(ns: str | None, key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    if ns is None:
        with open(path, "w") as handle:
            handle.write(value)
        return
    with inside(ns), open(path, "w") as handle:
        handle.write(value)


def _disable_tx_checksum_offload(iface: str) -> None:
    """veth leaves UDP/TCP checksums to "the hardware"; frames we relay through AF_PACKET would arrive with
    half-done checksums and be dropped. ETHTOOL_STXCSUM off = the kernel computes them (no ethtool binary needed)."""
    import fcntl
    import socket
    import struct

    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    request = struct.pack("16sP", iface.encode(), ctypes.addressof(value)).ljust(40, b"\x00")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, SIOCETHTOOL, request)


def _close_all() -> None:
    for net in list(_live):
        net.close()


atexit.register(_close_all)
_handler_installed = False


def _install_signal_handler() -> None:
    """SIGTERM → SystemExit, so `with SimNet.build()` unwinds (pytest-timeout, CI cancel) — unless someone else
    already handles SIGTERM, or we are not the main thread."""
    global _handler_installed
    if _handler_installed:
        return
    _handler_installed = True
    with contextlib.suppress(ValueError):
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, lambda *_: (_close_all(), os._exit(143)))
