"""Run one SLAC matching as EVSE or PEV on a PLC interface and print NID, peer MAC and timings.

Without a CP on this command line, the EVSE listens for CM_SLAC_PARM.REQ right after setting its key and the PEV
starts at once (set the CP to 5 % yourself). `--sim` runs our own other role through the in-process emulator.
"""

from __future__ import annotations

import argparse

from harness.commands._plc import SIM_PEER_MAC, add_link_arguments, build, dumps, l2_errors, stream_json
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug import frames as f
from stack.timers import SpecTimer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", choices=("evse", "pev"), required=True, help="the role we play")
    add_link_arguments(parser)
    parser.add_argument("--modem", default=f.QUALCOMM_LOCAL_MAC, help="our adaptor's MAC for CM_SET_KEY.REQ")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds (60)")
    parser.add_argument("--no-join-check", action="store_true", help="PEV: do not poll the link after SET_KEY")


def _machine(role: str, args: argparse.Namespace):
    if role == "evse":
        return EvseSlac(EvseSlacConfig(modem_mac=args.modem, wait_for_cp=False))
    return PevSlac(PevSlacConfig(modem_mac=args.modem, wait_for_cp=False, join_check=not args.no_join_check))


@l2_errors
def run(args: argparse.Namespace) -> int:
    ours = _machine(args.role, args)
    peers = [("peer", _machine("pev" if args.role == "evse" else "evse", args), SIM_PEER_MAC)] if args.sim else []
    runner, node, _ = build(args, args.role, ours, peers)
    if args.json:
        stream_json(runner)
    outcome = runner.run(lambda: ours.done, SpecTimer("ccs-hil slac --timeout", args.timeout))
    result = ours.result
    if args.json:
        return 0 if result is not None and result.matched else 1
    if result is None:
        print(f"no result within {outcome.limit} (state {ours.state})")
        return 1
    if not result.matched:
        print(f"SLAC failed: {result.reason}" + (f" ({result.timer} ran out)" if result.timer else ""))
        return 1
    print(f"SLAC matched as {args.role.upper()} in {result.duration:.3f} s ({result.attempts} attempt(s))")
    print(f"  peer MAC      {result.peer_mac}")
    print(f"  NID           {result.nid.hex()}")
    print(f"  NMK           {result.nmk.hex()}")
    print(f"  RunID         {result.run_id.hex()}")
    print(f"  attenuation   {result.attenuation_db} dB (average over groups)")
    start = result.timings.get("start", 0.0)
    print("  timings       " + ", ".join(f"{k} +{v - start:.3f}s" for k, v in result.timings.items()))
    _ = dumps
    return 0
