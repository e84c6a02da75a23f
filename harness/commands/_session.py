"""Shared plumbing of `ccs-hil evse` and `ccs-hil pev`: one node on a real interface, the live log, SLAC.

The node runs on the runner with the monotonic clock; its IP port is the kernel's sockets on `--iface`
(link-local address and MAC read from the interface). Without `--no-slac` the SLAC machine of the same role runs
first on the same interface through a raw L2 port (needs the HomePlug work, `stack.homeplug`). The other side of
the cable is the device under test, so every record carries `dir` (`to_dut` = we sent it).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

from harness.clock import MonotonicClock
from harness.describe.summary import summarize
from harness.records import Record, Timeline
from harness.runtime import Node, Runner
from harness.runtime.kernel_ip import KernelIpError, KernelIpPort, link_local_address, mac_address
from stack.sessions.config import PROTOCOL_CHOICES


class CommandError(RuntimeError):
    """A problem with the command line or the environment; printed as one line, exit status 2."""


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iface", required=True, help="network interface to the PLC adaptor / peer (e.g. eth1)")
    parser.add_argument("--protocol", required=True, choices=PROTOCOL_CHOICES,
                        help="din = DIN SPEC 70121 DC, iso2-dc / iso2-ac = ISO 15118-2 EIM")
    parser.add_argument("--no-slac", action="store_true", help="skip SLAC (peer reachable over IP already)")
    parser.add_argument("--json", action="store_true", help="print JSON Lines in the ccs-hil record format")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a session setting, e.g. --set power.isolation_time=0.5 (repeatable)")
    parser.add_argument("--modem", default=None, help="SLAC: our adaptor's MAC for CM_SET_KEY.REQ")


def overrides(pairs: list[str]) -> dict[str, Any]:
    """`["a.b=1", "c=x"]` -> `{"a": {"b": 1}, "c": "x"}` with numbers, booleans and null understood."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise CommandError(f"--set {pair!r}: expected KEY=VALUE")
        key, raw = pair.split("=", 1)
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def build(name: str, endpoint: Any, args: argparse.Namespace, command: str) -> tuple[Runner, Node, KernelIpPort]:
    clock = MonotonicClock()
    timeline = Timeline("monotonic", clock.epoch, command=command, iface=args.iface, protocol=args.protocol)
    runner = Runner(clock, timeline, external_dut=True)
    try:
        node = runner.add(Node(name, endpoint, mac_address(args.iface), link_local_address(args.iface)))
        port = KernelIpPort.attach(runner, node, args.iface)
    except KernelIpError as exc:
        raise CommandError(str(exc)) from None
    if getattr(endpoint, "slac", None) is not None:
        try:
            from harness.runtime.raw_l2 import L2PortError, RawL2Port
        except ImportError:
            raise CommandError("SLAC needs the raw L2 port (harness.runtime.raw_l2), not in this build; "
                               "use --no-slac") from None
        try:
            RawL2Port(runner, node, args.iface)
        except L2PortError as exc:
            raise CommandError(str(exc)) from None
    return runner, node, port


def warm_up(schemas: tuple[str, ...]) -> None:
    """Load the EXI grammars now (they load lazily, ~50 ms each), not while the first request waits for its answer."""
    from stack import exi
    from stack.sessions import apphand, templates
    from stack.sessions.messages import v2g

    exi.decode(apphand.SCHEMA, exi.encode(apphand.SCHEMA, apphand.offer(["din"])))
    for schema in schemas:
        message = v2g("0102030405060708", "SessionSetupReq", templates.body(schema, "SessionSetupReq"))
        exi.decode(schema, exi.encode(schema, message))
    gc.collect()
    gc.freeze()  # grammars and code are here to stay: keep them out of every later collection


def slac_machine(role: str, args: argparse.Namespace) -> Any:
    """The SLAC endpoint of our role, or None with --no-slac."""
    if args.no_slac:
        return None
    try:
        from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
        from stack.homeplug import frames as hp_frames
    except ImportError:
        raise CommandError("SLAC is not in this build (stack.homeplug missing); use --no-slac") from None
    modem = args.modem or hp_frames.QUALCOMM_LOCAL_MAC
    if role == "evse":
        return EvseSlac(EvseSlacConfig(modem_mac=modem, wait_for_cp=False))
    return PevSlac(PevSlacConfig(modem_mac=modem, wait_for_cp=False))


class LiveLog:
    """Prints records as they are added: JSON Lines (`--json`) or one readable line per message."""

    _STATE = {"negotiated", "session_end", "peer_error", "local_error", "listening", "connected", "fault",
              "paused", "command", "waiting_for_cp", "warning", "emergency_stop"}

    KEEP = 1000  # records kept in memory (the stream has them all)

    def __init__(self, timeline: Timeline, json_lines: bool, out: Any = None) -> None:
        self.timeline = timeline
        self.out = out or sys.stdout
        self.json = json_lines
        self._requests: dict[str, float] = {}
        if json_lines:
            self._write(timeline.meta.to_json())
        timeline.subscribe(self)

    def _write(self, line: str) -> None:
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except BrokenPipeError:
            pass

    def __call__(self, record: Record) -> None:
        if self.json:
            self._write(record.to_json())
        else:
            line = self.text(record)
            if line:
                self._write(line)
        # A live run is streamed, not kept: an EVSE serving for days must not grow (nor slow down the GC).
        if len(self.timeline.records) > self.KEEP * 2:
            del self.timeline.records[1:-self.KEEP]

    def text(self, record: Record) -> str | None:
        arrow = {"to_dut": "->", "from_dut": "<-"}.get(record.dir or "", "  ")
        if record.layer == "exi":
            delta = ""
            # Measured here, when the runner records the message (received: before the machine runs; sent: after
            # it ran and the codec encoded), so an EVSE shows its real processing time, a PEV the round trip.
            stamp = time.perf_counter()
            if record.name.endswith(("Req", "req")):
                self._requests[record.name[:-3]] = stamp
            elif record.name.endswith(("Res", "res")) and record.name[:-3] in self._requests:
                delta = f"{(stamp - self._requests.pop(record.name[:-3])) * 1000:7.2f} ms"
            detail = f"ERROR {record.error}" if record.error else summarize(record.to_dict())
            return f"{record.t:9.3f} {arrow} {record.name:30} {delta:>10}  {detail}"
        if record.layer in ("sdp", "tcp", "v2gtp", "homeplug"):
            detail = f"ERROR {record.error}" if record.error else summarize(record.to_dict())
            return f"{record.t:9.3f} {arrow} {record.layer}:{record.name:26} {'':>10}  {detail}"
        if record.layer in ("state", "power") and (record.name in self._STATE or record.layer == "power"
                                                   or record.name.startswith("slac_")):
            body = " ".join(f"{k}={v}" for k, v in (record.body or {}).items())
            return f"{record.t:9.3f}    [{record.name}] {body}"
        return None


def guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """One-line errors with exit status 2 for environment and usage problems."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CommandError as exc:
            print(f"ccs-hil {args.command}: {exc}", file=sys.stderr)
            return 2

    return wrapper
