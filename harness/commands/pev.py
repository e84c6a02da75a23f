"""Play the car: one DIN 70121 / ISO 15118-2 session through SDP, handshake, charging loop and SessionStop.

Runs SLAC (unless --no-slac), finds the charger with SDP, and charges until the simulated battery is full, the
charge loop ran --charge-loops times, or --charge-time passed, then stops normally. Exit 0 only when the session
ended with SessionStop; otherwise exit 1 with the reason (and the requirement the charger broke, when known).
"""

from __future__ import annotations

import argparse
import sys

from harness.commands._session import (
    CommandError,
    LiveLog,
    add_common_arguments,
    build,
    guarded,
    overrides,
    slac_machine,
    warm_up,
)
from stack.roles import Pev
from stack.sessions.config import PevConfig
from stack.timers import SpecTimer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--charge-loops", type=int, default=None, metavar="N",
                        help="stop charging after N charge-loop messages (default: 20 unless --charge-time)")
    parser.add_argument("--charge-time", type=float, default=None, metavar="S",
                        help="stop charging after S seconds in the charge loop")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="S",
                        help="give up after S seconds overall (default 600); the spec timers act much earlier")


@guarded
def run(args: argparse.Namespace) -> int:
    loops = args.charge_loops if args.charge_loops is not None or args.charge_time is not None else 20
    try:
        config = PevConfig.for_protocol(args.protocol, control_pilot=False, charge_loops=loops,
                                        charge_time=args.charge_time, **overrides(args.set))
    except (ValueError, TypeError) as exc:
        raise CommandError(f"bad --set: {exc}") from None
    warm_up(config.protocols)
    pev = Pev(config, slac=slac_machine("pev", args))
    runner, node, port = build("pev", pev, args, "pev")
    LiveLog(runner.timeline, args.json)
    if not args.json:
        print(f"# ccs-hil pev on {args.iface} ({node.ipv6}, {node.mac}), {args.protocol}", file=sys.stderr)
    try:
        outcome = runner.run(lambda: pev.done, SpecTimer("ccs-hil pev --timeout", args.timeout))
    finally:
        port.close()
    result = pev.result
    if result is None:
        print(f"ccs-hil pev: no result within {outcome.limit} (phase {pev.phase})", file=sys.stderr)
        return 1
    if result.ok:
        print(f"# session ended normally ({result.reason}), SoC {pev.battery.soc:.1f} %", file=sys.stderr)
        return 0
    requirement = f" [{result.requirement}]" if result.requirement else ""
    print(f"ccs-hil pev: session failed{requirement}: {result.reason}", file=sys.stderr)
    return 1
