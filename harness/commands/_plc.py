"""Shared plumbing of `ccs-hil modem` and `ccs-hil slac`: one node on a PLC interface (or the in-process emulator)."""

from __future__ import annotations

import argparse
import json
import sys

from harness.clock import MonotonicClock, VirtualClock
from harness.records import Timeline
from harness.runtime import Node, Runner
from harness.runtime.raw_l2 import L2PortError, RawL2Port, open_l2_socket

SIM_HOST_MAC = "02:cc:00:00:00:0e"
SIM_PEER_MAC = "02:cc:00:00:00:0f"


def add_link_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--iface", help="network interface the HomePlug adaptor is plugged into (needs root)")
    where.add_argument("--sim", action="store_true", help="use the in-process modem emulator instead (no hardware)")
    parser.add_argument("--mac", help="our host MAC (default: the interface's own)")
    parser.add_argument("--json", action="store_true", help="print the run as JSON Lines records")


def interface_mac(iface: str) -> str:
    with open(f"/sys/class/net/{iface}/address") as handle:
        return handle.read().strip().lower()


def build(args: argparse.Namespace, name: str, endpoint, peers: list[tuple[str, object, str]] = ()):
    """A runner with our node on the interface (monotonic clock) or on the emulator (virtual clock)."""
    if args.sim:
        from harness.sim.modem import ModemMedium

        runner = Runner(VirtualClock(), Timeline("virtual"))
        medium = ModemMedium(runner, line=getattr(args, "_sim_line", None))
        args._sim_line = medium.line  # a second run in the same command sees the same emulated adaptors
        node = runner.add(Node(name, endpoint, args.mac or SIM_HOST_MAC, "fe80::cc:e"))
        medium.attach(node, modem="local-modem")
        for peer_name, peer_endpoint, peer_mac in peers:
            medium.attach(runner.add(Node(peer_name, peer_endpoint, peer_mac, "fe80::cc:f")))
        return runner, node, medium
    runner = Runner(MonotonicClock(), Timeline("monotonic"))
    try:
        mac = args.mac or interface_mac(args.iface)
    except OSError:
        open_l2_socket(args.iface)  # raises the typed InterfaceNotFound / PrivilegeError
        raise
    node = runner.add(Node(name, endpoint, mac, "fe80::1"))
    RawL2Port(runner, node, args.iface)
    return runner, node, None


def stream_json(runner: Runner) -> None:
    print(runner.timeline.meta.to_json())
    runner.timeline.subscribe(lambda record: print(record.to_json(), flush=True))


def fail(message: str) -> int:
    print(f"ccs-hil: {message}", file=sys.stderr)
    return 2


def l2_errors(run):
    """Turn typed port errors into a one-line message and exit status 2."""
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except L2PortError as exc:
            return fail(str(exc))
    return wrapper


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, default=str)
