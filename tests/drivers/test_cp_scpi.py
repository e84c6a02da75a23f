"""The SCPI CP generator against pyvisa-sim instruments (harness/drivers/sim_instruments.yaml)."""

from __future__ import annotations

import pytest

from harness.bench import Bench
from harness.drivers import InstrumentError, InstrumentTimeout, ResourceUnavailable
from harness.drivers.cp import SafetyLimitError
from tests.conftest import make_rig

GOOD = "USB0::0x0957::0x2807::MY00000001::INSTR"
SCOPE = "USB0::0x2A8D::0x1797::CN00000001::INSTR"
DMM = "USB0::0x2A8D::0x1301::MY00000001::INSTR"


def bench_for(sim_yaml, resource=GOOD, limits=None, **cp_options):
    cp_table = {"driver": "scpi", "resource": resource, "visa_library": sim_yaml, "timeout_ms": 300,
                "amplifier_gain": 2.0, **cp_options}
    tables = {"cp": cp_table}
    if limits:
        tables["limits"] = limits
    return Bench(make_rig(**tables))


def ask(bench, query):
    return bench.cp.instrument.query(query)


def probe(sim_yaml, query, resource=GOOD):
    """Ask the simulated instrument itself, through a VISA session of our own (the device state is shared)."""
    import pyvisa

    session = pyvisa.ResourceManager(sim_yaml).open_resource(resource, read_termination="\n",
                                                             write_termination="\n", timeout=300)
    try:
        return session.query(query).strip()
    finally:
        session.close()


def test_pwm_dc_and_states_reach_the_generator(sim_yaml):
    with bench_for(sim_yaml) as bench:
        cp = bench.cp
        cp.set_current(16)
        assert ask(bench, "SOUR1:FUNC?") == "SQU"
        assert float(ask(bench, "SOUR1:FUNC:SQU:DCYC?")) == pytest.approx(26.6667, abs=1e-3)
        assert float(ask(bench, "SOUR1:FREQ?")) == 1000.0
        assert float(ask(bench, "SOUR1:VOLT:HIGH?")) == 6.0  # ±12 V at the CP through a gain-2 buffer
        assert float(ask(bench, "SOUR1:VOLT:LOW?")) == -6.0
        assert ask(bench, "OUTP1?") == "1"
        cp.set_dc()
        assert ask(bench, "SOUR1:FUNC?") == "DC" and float(ask(bench, "SOUR1:VOLT:OFFS?")) == 6.0
        cp.set_state("F")
        assert float(ask(bench, "SOUR1:VOLT:OFFS?")) == -6.0
        cp.set_state("E")
        assert float(ask(bench, "SOUR1:VOLT:OFFS?")) == 0.0
        actions = [(r.name, (r.body or {}).get("mode")) for r in bench.timeline.select(layer="cp")]
        assert actions == [("oscillator", "pwm"), ("oscillator", "dc"), ("oscillator", "F"), ("oscillator", "E")]
    assert probe(sim_yaml, "OUTP1?") == "0"  # close() made it safe
    assert bench.timeline.select(name="safe", layer="cp")


def test_a_level_the_generator_cannot_make_is_reported(sim_yaml):
    with bench_for(sim_yaml, amplifier_gain=1.0) as bench, \
            pytest.raises(InstrumentError, match=r"error after .*VOLT:HIGH 12.0000.*-113"):
        bench.cp.set_pwm(5.0)  # ±12 V straight from a 33500B: out of its ±10 V range


def test_safety_limit_stops_the_command_before_the_instrument(sim_yaml):
    with bench_for(sim_yaml, limits={"max_current_a": 16.0}) as bench:
        bench.cp.set_current(10)
        before = ask(bench, "SOUR1:FUNC:SQU:DCYC?")
        with pytest.raises(SafetyLimitError, match="limits.max_current_a = 16 A"):
            bench.cp.set_current(32)
        assert ask(bench, "SOUR1:FUNC:SQU:DCYC?") == before


def test_scope_measures_levels_duty_and_frequency(sim_yaml):
    with bench_for(sim_yaml, measure={"kind": "scope", "resource": SCOPE}) as bench:
        assert {"cp-measurement", "cp-pwm-measurement"} <= bench.capabilities
        bench.cp.set_pwm(5.0)
        reading = bench.measure_pilot()
        assert (reading.state, reading.duty, reading.fault) == ("B", 5.0, None)
        assert reading.low == pytest.approx(-11.98) and reading.frequency == pytest.approx(1000.2)
        assert bench.timeline.first("state B") is not None


def test_dmm_measures_the_steady_level(sim_yaml):
    with bench_for(sim_yaml, measure={"kind": "dmm", "resource": DMM}) as bench:
        assert "cp-pwm-measurement" not in bench.capabilities
        bench.cp.set_dc()
        assert bench.measure_pilot().state == "B"


def test_without_a_measuring_instrument_measure_skips(sim_yaml):
    with bench_for(sim_yaml) as bench, pytest.raises(ResourceUnavailable, match="needs cp-measurement"):
        bench.measure_pilot()


@pytest.mark.parametrize("library", ["@py", "no-such-visa-library.so"])
def test_absent_resource_is_unavailable_not_an_error(library):
    """pyvisa-py has no such USB instrument (or no USB backend); a missing VISA library is the same story."""
    resource = "USB0::0x0957::0x2807::MY99999999::INSTR"
    rig = make_rig(cp={"driver": "scpi", "resource": resource, "visa_library": library})
    with Bench(rig) as bench, pytest.raises(ResourceUnavailable) as info:
        bench.cp  # noqa: B018
    assert str(info.value).startswith("needs cp-generator: VISA ")
    assert resource in str(info.value) or "no-such-visa-library.so" in str(info.value)


def test_wrong_identity_is_an_instrument_error(sim_yaml):
    with bench_for(sim_yaml, resource="USB0::0x0957::0x2807::MY00000009::INSTR") as bench, \
            pytest.raises(InstrumentError, match=r"\*IDN\? answered 'RIGOL TECHNOLOGIES,DG1022Z"):
        bench.cp  # noqa: B018


def test_silent_instrument_times_out(sim_yaml):
    with bench_for(sim_yaml, resource="USB0::0x0957::0x2807::MY00000010::INSTR") as bench, \
            pytest.raises(InstrumentTimeout, match=r"no answer to '\*IDN\?' within 300 ms"):
        bench.cp  # noqa: B018


def test_garbled_readback_is_an_instrument_error_and_a_failed_safe_is_loud(sim_yaml, capsys):
    bench = bench_for(sim_yaml, resource="USB0::0x0957::0x2807::MY00000002::INSTR")
    with pytest.raises(InstrumentError, match="answered 'banana', expected a number"):
        bench.cp.set_pwm(5.0)
    failed = bench.timeline.first("oscillator failed")
    assert failed is not None and "banana" in failed.error
    # this instrument also claims its output is still on after OUTP1 0: closing the bench must not hide that
    with pytest.raises(InstrumentError, match="could not make cp .* safe.*'OUTP1\\?' answered '1'"):
        bench.close()
    assert "could not make cp" in capsys.readouterr().err


def test_instrument_error_queue_is_reported(sim_yaml):
    with bench_for(sim_yaml, resource="USB0::0x0957::0x2807::MY00000003::INSTR") as bench, \
            pytest.raises(InstrumentError, match='error queue does not empty .*-222,"Data out of range"'):
        bench.cp  # noqa: B018


def test_a_failed_open_is_remembered_for_the_session(sim_yaml):
    from harness.bench import SessionResources

    session = SessionResources()
    rig = make_rig(cp={"driver": "scpi", "resource": "USB0::0x0957::0x2807::MY00000010::INSTR",
                       "visa_library": sim_yaml, "timeout_ms": 300})
    for _ in range(2):
        with Bench(rig, session=session) as bench, pytest.raises(InstrumentTimeout):
            bench.cp  # noqa: B018
    session.close_all()


RIGOL = "USB0::0x1AB1::0x0642::DG1ZA000000002::INSTR"


def test_rigol_dialect_drives_a_dg1000z(sim_yaml):
    with bench_for(sim_yaml, resource=RIGOL, dialect="rigol-dg") as bench:
        assert bench.cp.dialect.name == "rigol-dg"  # opened: identity checked, set up
        assert probe(sim_yaml, ":OUTP1:IMP?", RIGOL) == "INF"
        bench.cp.set_current(16)
        assert probe(sim_yaml, ":SOUR1:FUNC?", RIGOL) == "SQU"
        assert float(probe(sim_yaml, ":SOUR1:FUNC:SQU:DCYC?", RIGOL)) == pytest.approx(26.6667, abs=1e-3)
        assert float(probe(sim_yaml, ":SOUR1:VOLT:HIGH?", RIGOL)) == 6.0
        assert float(probe(sim_yaml, ":SOUR1:VOLT:LOW?", RIGOL)) == -6.0
        assert probe(sim_yaml, ":OUTP1?", RIGOL) == "ON"
        bench.cp.set_state("F")
        assert probe(sim_yaml, ":SOUR1:FUNC?", RIGOL) == "DC" and float(probe(sim_yaml, ":SOUR1:VOLT:OFFS?", RIGOL)) == -6.0
    assert probe(sim_yaml, ":OUTP1?", RIGOL) == "OFF"


@pytest.fixture
def sdg():
    from harness.sim.scpi_emulators import ScpiSocketServer, SiglentSdgEmulator

    with ScpiSocketServer(SiglentSdgEmulator()) as server:
        yield server


def sdg_bench(server, **options):
    return Bench(make_rig(cp={"driver": "scpi", "resource": server.resource, "visa_library": "@py",
                              "dialect": "siglent-sdg", "timeout_ms": 500, **options}))


def test_siglent_dialect_drives_an_sdg_over_the_lan(sdg):
    channel = sdg.emulator.channels[1]
    with sdg_bench(sdg) as bench:
        assert bench.cp.dialect.name == "siglent-sdg"
        assert channel["LOAD"] == "HZ" and channel["OUTP"] == "OFF"
        bench.cp.set_pwm(5.0)
        assert (channel["WVTP"], channel["FRQ"], channel["HLEV"], channel["LLEV"], channel["DUTY"], channel["OUTP"]) \
            == ("SQUARE", 1000.0, 6.0, -6.0, 5.0, "ON")
        bench.cp.set_dc()
        assert (channel["WVTP"], channel["OFST"]) == ("DC", 6.0)
    assert channel["OUTP"] == "OFF"  # the emulator itself says so


def test_siglent_read_back_catches_a_value_the_generator_did_not_take(sdg):
    with sdg_bench(sdg, amplifier_gain=1.0) as bench, \
            pytest.raises(InstrumentError, match=r"HLEV reads back 2.0 after setting 12.0"):
        bench.cp.set_pwm(5.0)  # ±12 V straight from an SDG: it keeps its old level
    assert sdg.emulator.channels[1]["OUTP"] == "OFF"
    with sdg_bench(sdg) as bench:
        sdg.emulator.replies = {"C1:OUTP?": "C1:OUTP ON,LOAD,HZ,PLRT,NOR"}
        with pytest.raises(InstrumentError, match=r"'C1:OUTP\?' answered 'C1:OUTP ON,LOAD,HZ,PLRT,NOR', expected "
                                                  r"output OFF"):
            bench.cp_link.generator.dialect.output_off()
        sdg.emulator.replies = {}


def test_siglent_identity_is_checked(sdg):
    sdg.emulator.idn = "Keysight Technologies,33522B,MY1,1"
    with sdg_bench(sdg) as bench, pytest.raises(InstrumentError, match="expected a Siglent SDG1000X/2000X/6000X"):
        bench.cp  # noqa: B018
