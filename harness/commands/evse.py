"""Play the charger: serve DIN 70121 / ISO 15118-2 sessions on an interface, logging every message.

Runs SLAC (unless --no-slac), answers SDP with our link-local address and a dynamic TCP port, and serves
sessions until --sessions N have ended with SessionStop (exit 0) or Ctrl-C (exit 130). Each message is printed
with its key values and, for responses, the milliseconds since the request; --json prints the record format.
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
from stack.roles import Evse
from stack.sessions.config import EvseConfig
from stack.timers import SpecTimer

# Serving is open-ended; the runner still waits in bounded slices so Ctrl-C and the session count are seen.
SERVE_SLICE = SpecTimer("ccs-hil evse serving slice", 3600.0, "operator: Ctrl-C or --sessions")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--sessions", type=int, default=None, metavar="N",
                        help="exit 0 after N sessions ended with SessionStop (default: serve until Ctrl-C)")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port to announce (default: a free dynamic port 49152-65535)")


@guarded
def run(args: argparse.Namespace) -> int:
    try:
        config = EvseConfig.for_protocol(args.protocol, control_pilot=False, tcp_port=args.port,
                                         **overrides(args.set))
    except (ValueError, TypeError) as exc:
        raise CommandError(f"bad --set: {exc}") from None
    if args.sessions is not None and args.sessions < 1:
        raise CommandError("--sessions must be at least 1")
    warm_up(config.protocols)
    evse = Evse(config, slac=slac_machine("evse", args))
    runner, node, port = build("evse", evse, args, "evse")
    LiveLog(runner.timeline, args.json)
    wanted = args.sessions
    if not args.json:
        print(f"# ccs-hil evse on {args.iface} ({node.ipv6}, {node.mac}), {args.protocol}"
              + (f", {wanted} session(s)" if wanted else ", until Ctrl-C"), file=sys.stderr)
    try:
        while wanted is None or evse.sessions_completed < wanted:
            runner.run(lambda: wanted is not None and evse.sessions_completed >= wanted, SERVE_SLICE)
    finally:
        port.close()
    if not args.json:
        print(f"# {evse.sessions_completed} session(s) completed", file=sys.stderr)
    return 0
