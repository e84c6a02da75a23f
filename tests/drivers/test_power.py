"""Power stage stand-ins: SCPI supplies (pyvisa-sim for the dialects, a TCP-served emulator with a resistive load
and an output watchdog), the bulb stage (relay on the pty CP board or a SCPI switch, with and without a meter),
`none`, the limits, the timeline meta, and the adapter that lets our EVSE report measured values."""

from __future__ import annotations

import pytest

from harness import startup
from harness.bench import Bench, SessionResources
from harness.drivers import ResourceUnavailable
from harness.drivers.cp import SafetyLimitError
from harness.drivers.power import StageAdapter
from harness.rig import from_dict, load
from harness.sim.cp_board import CpBoardEmulator, PtyCpBoard
from harness.sim.scpi_emulators import DcSupplyEmulator, ScpiSocketServer
from tests.conftest import make_rig, rig_dict

E36103B = "USB0::0x2A8D::0x1802::MY00000007::INSTR"
DP832 = "USB0::0x1AB1::0x0E11::DP8C000000001::INSTR"
DAQ = "USB0::0x2A8D::0x5101::MY00000005::INSTR"
DMM = "USB0::0x2A8D::0x1301::MY00000001::INSTR"
LIMITS = {"max_dc_voltage_v": 450.0, "max_dc_current_a": 25.0}


def probe(sim_yaml, query, resource):
    import pyvisa

    session = pyvisa.ResourceManager(sim_yaml).open_resource(resource, read_termination="\n",
                                                             write_termination="\n", timeout=300)
    try:
        return session.query(query).strip()
    finally:
        session.close()


def supply_bench(resource, library, limits=LIMITS, **options):
    power = {"driver": "scpi-supply", "resource": resource, "visa_library": library, "timeout_ms": 500,
             "voltage_scale": 0.05, "current_scale": 0.08, "max_output_v": 22.0, **options}
    return Bench(make_rig(power=power, limits=limits))


def test_generic_supply_follows_the_evse_and_reports_measured_values(sim_yaml):
    with supply_bench(E36103B, sim_yaml) as bench:
        stage = bench.resource("power")
        assert float(probe(sim_yaml, "VOLT:PROT?", E36103B)) == 22.0  # OVP at the bench's limit, read back
        stage.set_target(400.0, 25.0)
        assert float(probe(sim_yaml, "VOLT?", E36103B)) == 20.0 and float(probe(sim_yaml, "CURR?", E36103B)) == 2.0
        stage.output_on()
        assert probe(sim_yaml, "OUTP?", E36103B) == "1"
        reading = stage.read()
        assert reading.measured and reading.output
        assert (reading.supply_v, reading.voltage) == (pytest.approx(23.987), pytest.approx(479.74))
        assert reading.current == pytest.approx(1.9981 / 0.08)
        names = [r.name for r in bench.timeline.select(layer="power")]
        assert names == ["target", "output", "reading"]
    assert probe(sim_yaml, "OUTP?", E36103B) == "0"  # closing the bench switched it off


def test_set_points_beyond_the_limits_never_reach_the_supply(sim_yaml):
    with supply_bench(E36103B, sim_yaml) as bench:
        stage = bench.resource("power")
        stage.set_target(300.0, 10.0)
        with pytest.raises(SafetyLimitError, match="500 V is above the rig limit limits.max_dc_voltage_v = 450 V"):
            stage.set_target(500.0, 10.0)
        with pytest.raises(SafetyLimitError, match="30 A is above the rig limit limits.max_dc_current_a = 25 A"):
            stage.set_target(300.0, 30.0)
        assert float(probe(sim_yaml, "VOLT?", E36103B)) == 15.0  # still the last good set point
    with supply_bench(E36103B, sim_yaml, limits={}) as bench, \
            pytest.raises(SafetyLimitError, match="460 V is 23 V at the bench, above power.max_output_v = 22 V"):
        bench.resource("power").set_target(460.0, 1.0)


def test_rigol_dp800_dialect(sim_yaml):
    with supply_bench(DP832, sim_yaml, dialect="rigol-dp", voltage_scale=0.03, max_output_v=30.0) as bench:
        stage = bench.resource("power")
        stage.set_target(400.0, 10.0)
        assert float(probe(sim_yaml, ":SOUR1:VOLT?", DP832)) == 12.0
        stage.output_on()
        assert probe(sim_yaml, ":OUTP? CH1", DP832) == "ON"
        assert stage.read().voltage == pytest.approx(399.9667, abs=1e-3)
    assert probe(sim_yaml, ":OUTP? CH1", DP832) == "OFF"


def test_a_supply_the_rig_does_not_name_aborts_and_limits_are_checked(sim_yaml):
    def checks(**options):
        session = SessionResources()
        try:
            power = {"driver": "scpi-supply", "resource": E36103B, "visa_library": sim_yaml, **options}
            return startup.run(from_dict(rig_dict(power=power, limits=LIMITS), "p.toml"), session)
        finally:
            session.close_all()

    report = checks(dialect="rigol-dp", max_output_v=22.0, voltage_scale=0.04)
    assert [c.action for c in report.checks if not c.ok] == ["abort"]
    assert "*IDN? answered 'Keysight Technologies,E36103B" in report.aborts[0].message
    report = checks(max_output_v=20.0, voltage_scale=0.05)
    assert report.aborts[0].message == ("limits.max_dc_voltage_v = 450 V × power.voltage_scale 0.05 = 22.5 V at the "
                                        "bench, above power.max_output_v = 20 V")
    report = checks(max_output_v=22.0, voltage_scale=0.04)
    assert all(c.ok for c in report.checks) and "OVP 22 V" in report.lines()[-1]


@pytest.fixture
def supply():
    with ScpiSocketServer(DcSupplyEmulator(load_ohm=10.0)) as server:
        yield server


def test_emulated_supply_over_the_lan_measures_its_load(supply):
    emulator = supply.emulator
    with supply_bench(supply.resource, "@py", max_output_v=50.0, voltage_scale=0.05, current_scale=0.1) as bench:
        stage = bench.resource("power")
        stage.set_target(400.0, 25.0)  # 20 V, 2.5 A limit into 10 Ω: CV, 2 A
        stage.output_on()
        assert emulator.output and emulator.ovp == 50.0
        reading = stage.read()
        assert (reading.voltage, reading.current) == (pytest.approx(400.0), pytest.approx(20.0))
        stage.set_target(400.0, 15.0)  # 1.5 A limit: the load pulls the supply into CC at 15 V
        reading = stage.read()
        assert (reading.supply_v, reading.supply_a) == (pytest.approx(15.0), pytest.approx(1.5))
    assert not emulator.output  # asked of the emulator itself


def test_supply_output_watchdog_trips_when_the_heartbeats_stop(supply):
    emulator = supply.emulator
    with supply_bench(supply.resource, "@py", max_output_v=50.0, watchdog_s=0.4) as bench:
        stage = bench.resource("power")
        assert emulator.watchdog and emulator.watchdog_delay == 0.4
        stage.set_target(200.0, 10.0)
        stage.output_on()
        assert not emulator.wait(lambda: emulator.watchdog_tripped, timeout=1.2)  # fed by the heartbeat
        stage.dialect.heartbeat.stop()  # as if this process had died
        assert emulator.wait(lambda: emulator.watchdog_tripped, timeout=2.0) and not emulator.output


# --------------------------------------------------------------------------- bulb


@pytest.fixture
def board():
    with PtyCpBoard(CpBoardEmulator(side="evse")) as served:
        yield served


def bulb_rig(board, **power):
    return make_rig(cp={"driver": "serial", "port": board.port, "side": "evse", "timeout_ms": 300},
                    power={"driver": "bulb", "source_v": 24.0, "load_ohm": 12.0, "voltage_scale": 0.06,
                           "max_output_v": 30.0, **power}, limits=LIMITS)


def test_bulb_on_the_cp_boards_relay_without_a_meter_is_marked_unmeasured(board):
    with Bench(bulb_rig(board)) as bench:
        stage = bench.resource("power")
        assert "power-measurement" not in bench.capabilities
        stage.set_target(400.0, 10.0)
        stage.output_on()
        assert board.emulator.relay  # the lamps are lit
        reading = stage.read()
        # nominal: 24 V over 12 Ω, i.e. 400 V at a voltage_scale of 0.06 and 2 A — not a measurement
        assert not reading.measured and reading.voltage == pytest.approx(400.0) and reading.current == \
            pytest.approx(2.0)
        assert bench.timeline.meta.extra["power_stage"] == "bulb"
    assert not board.emulator.relay


def test_bulb_with_a_meter_reports_what_it_measures(board, sim_yaml):
    with Bench(bulb_rig(board, measure={"resource": DMM, "visa_library": sim_yaml})) as bench:
        stage = bench.resource("power")
        stage.output_on()
        reading = stage.read()
        assert reading.measured and reading.supply_v == pytest.approx(8.97) and reading.supply_a == \
            pytest.approx(8.97 / 12.0)


def test_bulb_on_a_scpi_switch(sim_yaml):
    rig = make_rig(power={"driver": "bulb", "source_v": 12.0, "load_ohm": 6.0, "max_output_v": 15.0,
                          "relay": {"kind": "scpi", "resource": DAQ, "visa_library": sim_yaml,
                                    "on_reply": "CLOS", "off_reply": "OPEN"}})
    with Bench(rig) as bench:
        bench.resource("power").output_on()
        assert probe(sim_yaml, "ROUT:CLOS? (@101)", DAQ) == "CLOS"
    assert probe(sim_yaml, "ROUT:CLOS? (@101)", DAQ) == "OPEN"


def test_bulb_needs_a_board_with_a_relay():
    with PtyCpBoard(CpBoardEmulator(side="evse", features=("WDOG",))) as served:
        session = SessionResources()
        report = startup.run(bulb_rig(served), session)
        session.close_all()
    assert report.aborts and "has no RELAY" in report.aborts[0].message


# --------------------------------------------------------------------------- none, meta


def test_no_power_stage_is_simulated_and_says_so():
    with Bench(load("sim")) as bench:
        assert bench.timeline.meta.extra["power_stage"] == "simulated"
        with pytest.raises(ResourceUnavailable, match="has no \\[power\\] table"):
            bench.resource("power")
    with Bench(make_rig(power={"driver": "none"})) as bench:
        with pytest.raises(ResourceUnavailable, match="needs power-stage: .*our EVSE uses its simulated one"):
            bench.resource("power")
        assert bench.timeline.meta.extra["power_stage"] == "simulated"


# --------------------------------------------------------------------------- the EVSE adapter


def test_adapter_gives_the_evse_measured_values(supply):
    physics = pytest.importorskip("stack.sessions.physics", reason="the sessions work (stack/sessions) has not "
                                  "been merged into this branch yet")
    with supply_bench(supply.resource, "@py", max_output_v=50.0, voltage_scale=0.1, current_scale=0.1,
                      limits={"max_dc_voltage_v": 450.0, "max_dc_current_a": 50.0}) as bench:
        sim = physics.PowerStage()
        stage = StageAdapter(bench.resource("power"), sim, min_interval=0.0)
        stage.switch_on(0.0)
        stage.set_target(350.0, 40.0, 0.0)  # 35 V, 4 A limit into 10 Ω: 3.5 A
        stage.update(0.1)
        assert stage.output_on and stage.voltage == pytest.approx(350.0) and stage.current == pytest.approx(35.0)
        stage.set_target(350.0, 10.0, 0.2)  # 1 A limit: the load pulls the supply down to 10 V, and the EVSE sees it
        stage.update(0.3)
        assert stage.voltage == pytest.approx(100.0) and sim.voltage != pytest.approx(100.0)
        assert supply.emulator.output
        stage.emergency_off(0.2)
        assert stage.emergency and not supply.emulator.output
        assert stage.isolation_status(0.0) is None  # what a bench cannot do still comes from the model
