"""`[ip] transport = "veth"`: a plain veth pair between two network namespaces, no modems, no SLAC — the bench of
the Josev rigs (`rigs/josev-secc.toml`, `rigs/josev-evcc.toml`), where a reference implementation runs as a
subprocess inside the DUT's namespace and our stack's node opens its sockets inside the tester's.

The pair (`harness.runtime.netns.VethPair`: namespaces `ccsv-<pid>-<n>-evse|pev`, interface `veth0` in each, DAD
off) lives for the whole pytest session and is removed at its end (and by `atexit`, and `cleanup_stale()` for the
leftovers of a killed run). Per test the resource gives nodes their sockets (as `[ip] transport = "kernel"`) and
runs the DUT's processes: `spawn(side, argv, env=..., log=...)` starts one inside `side`'s namespace in a process
group of its own; `close()` — called by the bench on every exit path (test end, failure, pytest-timeout, Ctrl-C) —
ends each of them (SIGTERM to its group, SIGKILL after `T_process_stop`) before the sockets are closed. Needs root.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.drivers import Check, ResourceUnavailable, register
from harness.drivers.ip_kernel import KernelIp
from harness.runtime.netns import NetnsError, VethPair
from stack.timers import SpecTimer

T_process_stop = SpecTimer("T_process_stop", 5.0, "ccs-hil working value: how long a DUT process gets to end after "
                           "SIGTERM before it is killed (Josev stops its JVM gateway)")
SIDES = ("evse", "pev")
_running: list[subprocess.Popen[bytes]] = []  # every process any veth resource started, for atexit


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    """End one process we started and its process group (Josev's JVM), by their ids; returns its exit code."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=T_process_stop.seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=T_process_stop.seconds)
    # whatever of its group outlived the leader (the JVM gateway does not always follow SIGTERM)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process in _running:
        _running.remove(process)
    return process.returncode


def group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` is still there."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@atexit.register
def _stop_all() -> None:
    for process in list(_running):
        with contextlib.suppress(Exception):
            _stop(process)


@dataclass
class Spawned:
    """A DUT process on the bench: its handle, what was started, and where its output goes."""

    process: subprocess.Popen[bytes]
    side: str
    argv: list[str]
    log: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def open_pair(session: Any) -> VethPair:
    """The session's veth pair (created on first use; `ResourceUnavailable` when namespaces cannot be made)."""

    def opener() -> VethPair:
        try:
            return VethPair.create(SIDES)
        except NetnsError as exc:
            raise ResourceUnavailable("ip", f"veth pair between network namespaces: {exc}") from None

    return session.get(("veth", SIDES), opener)


class VethIp(KernelIp):
    """The kernel's sockets on each side of the session's veth pair, and the DUT's processes inside it."""

    def __init__(self, bench: Any, options: dict[str, Any], pair: VethPair) -> None:
        super().__init__(bench, options)
        self.pair = pair
        self.spawned: list[Spawned] = []
        self.scratch: list[Path] = []  # temporary folders to remove at close (benches without an output folder)

    def _where(self, side: str) -> tuple[str, str | None]:
        if side not in self.pair.ns:
            raise ResourceUnavailable("ip", f"the veth pair has no {side!r} side (sides: {', '.join(self.pair.ns)})")
        return self.pair.iface, self.pair.ns[side]

    def interface(self, side: str) -> str:
        return self.pair.iface

    def namespace(self, side: str) -> str:
        return self.pair.ns[side]

    def spawn(self, side: str, argv: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> Spawned:
        """Start `argv` inside `side`'s namespace (stdout and stderr to `log`); ended by `close()`."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as handle:
            process = subprocess.Popen(self.pair.command(side, argv), stdout=handle, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True)
        _running.append(process)
        spawned = Spawned(process, side, argv, log)
        self.spawned.append(spawned)
        return spawned

    def stop(self, spawned: Spawned) -> int | None:
        return _stop(spawned.process)

    def close(self) -> None:
        try:
            for spawned in self.spawned:
                with contextlib.suppress(Exception):
                    _stop(spawned.process)
            for folder in self.scratch:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            super().close()


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    try:
        pair = open_pair(ctx.session)
    except ResourceUnavailable as exc:
        return [Check.missing("ip veth", "ip", exc.why, "run as root with iproute2 installed")]
    return [Check.passed("ip veth", f"veth pair {pair.iface} between {', '.join(pair.ns.values())}")]


@register("ip", "veth", capabilities={"ip", "ip-kernel", "netns"}, startup=startup)
def build(options: dict[str, Any], bench: Any) -> VethIp:
    """A veth pair between two network namespaces (root); DUT processes run inside with `spawn()`."""
    return VethIp(bench, options, open_pair(bench.session))
