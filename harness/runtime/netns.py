"""A plain veth pair between two network namespaces, and `inside(ns)` to open sockets in one of them.

`harness.netns.SimNet` (the simnet rig) puts emulated modems between its namespaces; `VethPair` is the IP-only
bench: no modems, no SLAC — what `--no-slac` runs, the Josev interop tests and the latency benchmark use. Each side is a namespace `ccsv-<pid>-<n>-<side>` with interface `veth0` (DAD off, so the
link-local address is usable at once). A process can run both sides on one runner: `KernelIpPort(netns=...)`
opens its sockets inside the namespace, and they stay there. Subprocesses (Josev, our CLI) run inside with
`pair.command(side, argv)` (`ip netns exec`). Teardown on every exit path: context manager, `atexit`, and
`cleanup_stale()` for namespaces of dead processes. Needs root (`NetnsError` says so).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.netns import inside as _inside

IFACE = "veth0"
_counter = itertools.count(1)
_live: list[VethPair] = []


class NetnsError(RuntimeError):
    """Namespaces or veth pairs could not be made (not root, iproute2 missing, kernel without netns)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        raise NetnsError("the `ip` command (iproute2) is not installed") from None
    if check and result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


@contextlib.contextmanager
def inside(ns: str | None) -> Iterator[None]:
    """`harness.netns.inside` (sockets opened in the block stay in namespace `ns`), with None meaning "stay"."""
    if ns is None:
        yield
        return
    if not os.path.exists(f"/run/netns/{ns}"):
        raise NetnsError(f"network namespace {ns!r} does not exist")
    with _inside(ns):
        yield


def cleanup_stale() -> list[str]:
    """Delete `ccsv-<pid>-…` namespaces whose process is gone; returns the names removed."""
    removed = []
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        match = re.match(r"(ccsv-(\d+)-\d+-\w+)", line)
        if match and not os.path.exists(f"/proc/{match.group(2)}"):
            _ip("netns", "del", match.group(1), check=False)
            removed.append(match.group(1))
    return removed


@dataclass
class VethPair:
    sides: tuple[str, str] = ("evse", "pev")
    ns: dict[str, str] = field(default_factory=dict)
    iface: str = IFACE
    closed: bool = False

    @classmethod
    @contextlib.contextmanager
    def build(cls, sides: tuple[str, str] = ("evse", "pev")) -> Iterator[VethPair]:
        pair = cls.create(sides)
        try:
            yield pair
        finally:
            pair.close()

    @classmethod
    def create(cls, sides: tuple[str, str] = ("evse", "pev")) -> VethPair:
        if os.geteuid() != 0:
            raise NetnsError("a veth pair between network namespaces needs root")
        cleanup_stale()
        tag = f"{os.getpid()}-{next(_counter)}"
        pair = cls(sides)
        _live.append(pair)
        try:
            for side in sides:
                pair.ns[side] = f"ccsv-{tag}-{side}"
                _ip("netns", "add", pair.ns[side])
            a, b = (pair.ns[s] for s in sides)
            _ip("-n", a, "link", "add", "tmpa", "type", "veth", "peer", "name", "tmpb", "netns", b)
            for ns, tmp in ((a, "tmpa"), (b, "tmpb")):
                _ip("-n", ns, "link", "set", tmp, "name", pair.iface)
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                                f"net.ipv6.conf.{pair.iface}.accept_dad=0"], check=True, timeout=10,
                               capture_output=True)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "link", "set", pair.iface, "up")
            for ns in pair.ns.values():
                pair._wait_for_link_local(ns)
        except BaseException:
            pair.close()
            raise
        return pair

    def _wait_for_link_local(self, ns: str, seconds: float = 5.0) -> None:
        """Programs started at once (Josev checks at start-up) must find the link-local address there."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = _ip("-n", ns, "-6", "addr", "show", "dev", self.iface, "scope", "link", check=False).stdout
            if "fe80::" in shown and "tentative" not in shown:
                return
            time.sleep(0.02)
        raise NetnsError(f"{ns}: {self.iface} got no usable link-local address within {seconds} s")

    def command(self, side: str, argv: list[str]) -> list[str]:
        """argv to run a program inside `side`'s namespace."""
        return ["ip", "netns", "exec", self.ns[side], *argv]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for ns in self.ns.values():
            _ip("netns", "del", ns, check=False)
        if self in _live:
            _live.remove(self)


@atexit.register
def _close_all() -> None:
    for pair in list(_live):
        pair.close()
