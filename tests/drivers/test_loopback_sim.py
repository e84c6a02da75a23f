"""The `loopback-sim` rig: the loopback wiring with a CP board emulator on a pty and emulated adaptors on veth.
Every hardware path runs (serial driver, raw sockets in namespaces, start-up checks), our simulators fill the DUT
seat, and the catalogue's CP cases pass on it as they do on the sim rig."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.bench import Bench, SessionResources
from harness.nodes import add_evse, add_pev
from harness.rig import from_dict, load
from harness.runtime.runner import Node
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug.timers import TT_matching_repetition
from stack.timers import SpecTimer
from tests.conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth, raw sockets)")

# A catalogue run in a pytest subprocess on the real clock: bounded by its own timeout, and this test's
# pytest-timeout (the project's default is 120 s) is set above it, so an overrun ends as a failure that shows the
# run's output so far rather than as a bare pytest-timeout inside subprocess.run.
CATALOGUE_RUN_S = 300
outlives_its_run = pytest.mark.timeout(CATALOGUE_RUN_S + 60)


def run_catalogue(*args: str) -> subprocess.CompletedProcess[str]:
    """`pytest *args` in a subprocess; past CATALOGUE_RUN_S it gets SIGTERM (the harness makes the bench safe and
    removes its namespaces), then SIGKILL, and the test fails with the output so far."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    with subprocess.Popen(command, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            out, err = proc.communicate(timeout=CATALOGUE_RUN_S)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            pytest.fail(f"pytest {' '.join(args)} took over {CATALOGUE_RUN_S} s; its output:\n{out[-3000:]}\n"
                        f"{err[-2000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


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
@outlives_its_run
def test_the_cp_catalogue_passes_on_loopback_sim(tmp_path):
    result = run_catalogue("testcases/cp/", "--rig=loopback-sim", "-q", f"--ccs-out={tmp_path}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "ccs-hil start-up checks (loopback-sim):" in result.stdout
    assert "[ABORT]" not in result.stdout and "[SKIP ]" not in result.stdout
    # the 7 skipped need an outlet voltage sense / a current clamp, which the loopback wiring has not
    assert "21 passed, 7 skipped" in result.stdout, result.stdout[-2000:]
    timelines = sorted(tmp_path.glob("loopback-sim/**/timeline.jsonl"))
    assert len(timelines) == 21


SESSION = SpecTimer("loopback-sim session bound", 60)


@needs_root
@pytest.mark.parametrize("protocol", ["din", "iso2-dc"])
def test_slac_then_a_full_session_on_loopback_sim(protocol):
    """SLAC on the pilot, then SDP/TCP/V2G through each namespace's kernel over the emulated adaptors."""
    session = SessionResources()
    try:
        with Bench(load("loopback-sim"), dut_role="pev", session=session) as bench:
            evse = add_evse(bench, protocol=protocol, slac=True, config={"power": {"isolation_time": 0.2}})
            pev = add_pev(bench, protocol=protocol, dut=True, slac=True, config={"charge_loops": 3, "cycle": 0.02})
            assert bench.wait_for(lambda: pev.done, SESSION).reached
            assert pev.result.ok, pev.result
            assert evse.slac.matched and evse.sessions_completed == 1
            pilot = [r.body["state"] for r in bench.timeline.select(layer="cp") if r.name.startswith("state")
                     and r.src == "cp"]
            assert "C" in pilot  # measured on the board: our PEV closed S2 through the board's vehicle circuit
            assert bench.runner.nodes["evse"].ipv6 == bench.resource("plc").address("evse")[1]
    finally:
        session.close_all()


@needs_root
def test_our_evse_reports_what_the_supply_measures(tmp_path):
    """loopback-sim plus a programmable supply (TCP-served emulator, a 1 kΩ load): during PreCharge and
    CurrentDemand the EVSE's EVSEPresentVoltage/Current are the supply's measurements, scaled back."""
    from harness.drivers.power import StageAdapter
    from harness.sim.scpi_emulators import DcSupplyEmulator, ScpiSocketServer

    with ScpiSocketServer(DcSupplyEmulator(load_ohm=1000.0)) as supply:
        data = tomllib.loads((REPO / "rigs" / "loopback-sim.toml").read_text())
        data["power"] = {"driver": "scpi-supply", "resource": supply.resource, "voltage_scale": 0.1,
                         "current_scale": 0.02, "max_output_v": 50.0, "timeout_ms": 500}
        data["limits"].update(max_dc_voltage_v = 450.0, max_dc_current_a = 200.0)
        rig = from_dict(data, "loopback-sim+supply.toml")
        session = SessionResources()
        try:
            with Bench(rig, dut_role="pev", session=session) as bench:
                evse = add_evse(bench, protocol="iso2-dc", slac=True, config={"power": {"isolation_time": 0.2}})
                evse.ctx.stage = StageAdapter(bench.resource("power"), evse.ctx.stage, min_interval=0.0)
                pev = add_pev(bench, protocol="iso2-dc", dut=True, slac=True, config={"charge_loops": 3,
                                                                                      "cycle": 0.02})
                assert bench.wait_for(lambda: pev.done, SESSION).reached
                assert pev.result.ok, pev.result
                assert bench.timeline.meta.extra["power_stage"] == "scpi-supply"
                readings = [r.body for r in bench.timeline.select(name="reading", layer="power")]
                assert readings and all(r["measured"] for r in readings)
                demand = [r.body["V2G_Message"]["Body"]["CurrentDemandRes"]
                          for r in bench.timeline.select(name="CurrentDemandRes", layer="exi")]
                assert demand
                for res in demand:  # 1 kΩ at ~35 V: 35 mA at the bench, 1.75 A for the EVSE — not a model's 125 A
                    volts = physical(res["EVSEPresentVoltage"])
                    amps = physical(res["EVSEPresentCurrent"])
                    assert 300.0 < volts < 420.0 and amps == pytest.approx(volts * 0.1 / 1000.0 / 0.02, rel=0.02)
            assert not supply.emulator.output  # and the supply is off again
        finally:
            session.close_all()


def physical(value: dict) -> float:
    return value["Value"] * 10 ** value["Multiplier"]


V2G_CASE = '''
import pytest

@pytest.mark.parametrize("role", ["evse", "pev"])
@pytest.mark.parametrize("protocol", ["din", "iso2-dc"])
def test_session_through_the_catalogue_fixture(request, role, protocol):
    request.node.add_marker(pytest.mark.dut_role(role))
    v2g = request.getfixturevalue("v2g")
    v2g.start(protocol)
    res = v2g.expect("SessionSetupRes")
    v2g.check(v2g.code(res) == "OK_NewSessionEstablished", f"SessionSetupRes says {v2g.code(res)}", mark=res)
    v2g.run_to_end()
    v2g.check(v2g.tester_ended(), "the tester's session did not end")
    v2g.check(v2g.timeline.first("slac_matched") is not None, "no SLAC before the session")
'''


@needs_root
@outlives_its_run
def test_the_catalogues_v2g_fixture_runs_sessions_on_loopback_sim(tmp_path):
    """What V2G catalogue cases use (`v2g`: tester + DUT seat, SLAC first on a non-inproc PLC link) works on
    loopback-sim for both DUT roles, so they run there as they are written."""
    (tmp_path / "test_v2g_case.py").write_text(V2G_CASE)
    result = run_catalogue(str(tmp_path / "test_v2g_case.py"), "--rig=loopback-sim", "-q", "--rootdir", str(REPO),
                           f"--ccs-out={tmp_path / 'out'}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
