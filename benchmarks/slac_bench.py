"""SLAC duration on simnet (real kernel, veth, raw sockets, emulated modems, monotonic clock): median of N runs.

    sudo .venv/bin/python benchmarks/slac_bench.py [--runs 20]

Prints a table: per run the PEV's duration (first CM_SLAC_PARM.REQ → link confirmed) and the EVSE's (PARM.REQ →
MATCH.CNF sent), then median/min/max, next to the virtual-clock duration of the same exchange in process (the
floor set by the spec timers: TT_match_response + TT_EV_atten_results + join poll) for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.clock import MonotonicClock, VirtualClock  # noqa: E402
from harness.netns import SimNet  # noqa: E402
from harness.runtime import Node, Runner  # noqa: E402
from harness.runtime.raw_l2 import RawL2Port  # noqa: E402
from harness.sim.modem import ModemMedium  # noqa: E402
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig  # noqa: E402
from stack.homeplug.timers import TT_matching_repetition  # noqa: E402


def one_simnet_run(net: SimNet) -> tuple[float, float]:
    runner = Runner(MonotonicClock())
    evse = runner.add(Node("evse", EvseSlac(EvseSlacConfig(wait_for_cp=False)), net.mac["evse"], "fe80::e"))
    pev = runner.add(Node("pev", PevSlac(PevSlacConfig(wait_for_cp=False)), net.mac["pev"], "fe80::f"))
    ports = []
    for role, node in (("evse", evse), ("pev", pev)):
        with net.inside(role):
            ports.append(RawL2Port(runner, node, net.iface))
    # the EVSE sets its key first; the PEV starts once the EVSE listens (as a car starts on 5 % PWM)
    runner.run(lambda: evse.endpoint.state == "wait_parm_req", TT_matching_repetition)
    runner.run(lambda: evse.endpoint.done and pev.endpoint.done, TT_matching_repetition)
    for port in ports:
        port.close()
    if not (evse.endpoint.matched and pev.endpoint.matched):
        raise RuntimeError(f"no match: {evse.endpoint.result} {pev.endpoint.result}")
    e = evse.endpoint.result.timings
    return pev.endpoint.result.duration, e["matched"] - e["parm_req"]


def virtual_run() -> float:
    runner = Runner(VirtualClock())
    medium = ModemMedium(runner)
    evse = runner.add(Node("evse", EvseSlac(EvseSlacConfig(wait_for_cp=False)), "02:00:00:00:00:0e", "fe80::e"))
    pev = runner.add(Node("pev", PevSlac(PevSlacConfig(wait_for_cp=False)), "02:00:00:00:00:0f", "fe80::f"))
    medium.attach(evse)
    medium.attach(pev)
    runner.run(lambda: pev.endpoint.done, TT_matching_repetition)
    return pev.endpoint.result.duration


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    pev_times, evse_times = [], []
    print(f"{'run':>4}  {'PEV s':>8}  {'EVSE s':>8}")
    with SimNet.build() as net:
        for run in range(1, args.runs + 1):
            with net.bridge.locked() as line:  # modems back to unrelated keys: every run a new network
                for modem in line.modems.values():
                    modem.nmk = os.urandom(16)
            pev_s, evse_s = one_simnet_run(net)
            pev_times.append(pev_s)
            evse_times.append(evse_s)
            print(f"{run:>4}  {pev_s:8.3f}  {evse_s:8.3f}")
    floor = virtual_run()
    print()
    print(f"{'':22}{'median':>8}  {'min':>8}  {'max':>8}")
    print(f"{'simnet PEV (s)':22}{statistics.median(pev_times):8.3f}  {min(pev_times):8.3f}  {max(pev_times):8.3f}")
    print(f"{'simnet EVSE (s)':22}{statistics.median(evse_times):8.3f}  {min(evse_times):8.3f}  "
          f"{max(evse_times):8.3f}")
    print(f"{'in-process, virtual':22}{floor:8.3f}  (spec-timer floor, no I/O)")
    print(f"{'Ioniq capture (pyPLC)':22}{22.287 - 20.816:8.3f}  (CM_SLAC_PARM.REQ 20.816 s → MATCH.CNF 22.287 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
