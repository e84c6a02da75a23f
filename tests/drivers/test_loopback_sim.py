"""The `loopback-sim` rig: the loopback wiring with a CP board emulator on a pty and emulated adaptors on veth.
Every hardware path runs (serial driver, raw sockets in namespaces, start-up checks), our simulators fill the DUT
seat, and the catalogue's CP cases pass on it as they do on the sim rig."""

from __future__ import annotations

import os

import pytest

from harness.bench import Bench, SessionResources
from harness.rig import load
from harness.runtime.runner import Node
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug.timers import TT_matching_repetition
from tests.plugin.helpers import run_pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth, raw sockets)")


@needs_root
def test_the_simulated_car_in_the_dut_seat_drives_the_boards_vehicle_circuit():
    session = SessionResources()
    try:
        with Bench(load("loopback-sim"), dut_role="pev", session=session) as bench:
            bench.cp_link  # noqa: B018 - built: the board emulator is served and opened
            board = session.get(("cp-board-emulator", "both"), lambda: None).emulator
            bench.cp.set_current(16)
            assert bench.cp_link.load is None  # the vehicle side is the DUT's, not the test's
            reached = bench.wait_for(lambda: bench.pilot_state == "C", TT_matching_repetition, "car in C")
            assert reached and board.load_state == "C" and board.oscillator == "PWM 26.7"  # the board's own state
            loads = bench.timeline.select(name="load", layer="cp")
            assert loads and all(r.src.startswith("dut cp-load") for r in loads)
        assert board.safe
    finally:
        session.close_all()


@needs_root
def test_slac_with_the_pilot_on_loopback_sim():
    """Our EVSE (tester) and our PEV (DUT) each on their adaptor and their side of the CP board: the PEV's side
    shows B, the EVSE answers with 5 % PWM, the PEV matches on it — through pty, veth, raw sockets, emulated modems."""
    session = SessionResources()
    try:
        bench = Bench(load("loopback-sim"), dut_role="pev", session=session)
        link = bench.resource("plc")
        evse, pev = EvseSlac(EvseSlacConfig()), PevSlac(PevSlacConfig())
        bench.add_node(Node("evse", evse, *link.address("evse")), attach={"plc": {}, "cp": {"side": "evse"}})
        bench.add_node(Node("pev", pev, *link.address("pev"), role="dut"), attach={"plc": {}, "cp": {"side": "pev"}})
        bench.cp.set_dc()
        bench.cp_load.set_state("B")  # the PEV node took the vehicle side over from the simulated car
        result = bench.wait_for(lambda: evse.done and pev.done, TT_matching_repetition, "SLAC matched")
        assert result.reached and evse.matched and pev.matched, (evse.result, pev.result)
        board = session.get(("cp-board-emulator", "both"), lambda: None).emulator
        assert board.oscillator == "PWM 5.0" and bench.pilot.duty == pytest.approx(5.0)
        with link.emulator() as line:
            assert line.same_network("evse-modem", "pev-modem", link.net.bridge.now())
        bench.close()
        assert board.safe
        with link.emulator() as line:
            keys = {line.nmk(name, 1e9) for name in ("evse-modem", "pev-modem")}
        assert evse.result.nmk not in keys and len(keys) == 2
    finally:
        session.close_all()


@needs_root
def test_the_cp_catalogue_passes_on_loopback_sim(tmp_path):
    result = run_pytest("testcases/", "--rig=loopback-sim", "-q", f"--ccs-out={tmp_path}", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "ccs-hil start-up checks (loopback-sim):" in result.stdout
    assert "[ABORT]" not in result.stdout and "[SKIP ]" not in result.stdout
    assert "12 passed" in result.stdout
    timelines = sorted(tmp_path.glob("loopback-sim/**/timeline.jsonl"))
    assert len(timelines) == 12
