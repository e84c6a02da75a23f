"""The serial CP board driver against the board emulator on a pseudo-terminal."""

from __future__ import annotations

import pytest

from harness.bench import Bench
from harness.drivers import InstrumentError, InstrumentTimeout, ResourceUnavailable
from harness.drivers.cp import CpSetting
from harness.sim.cp_board import CpBoardEmulator, PtyCpBoard
from stack.timers import SpecTimer
from tests.conftest import make_rig

T_test = SpecTimer("T_test", 2.0)


@pytest.fixture
def board():
    with PtyCpBoard(CpBoardEmulator(side="both")) as served:
        yield served


def bench_for(board, side="evse", **options):
    role = {"evse": "evse", "pev": "pev", "both": "per-test"}[side]
    dut = {"evse": {"kind": "vehicle"}, "pev": {"kind": "charger"}, "both": {"kind": "our-stack"}}[side]
    return Bench(make_rig(rig={"name": "t", "clock": "monotonic", "stack_role": role}, dut=dut,
                          cp={"driver": "serial", "port": board.port, "side": side, "timeout_ms": 300,
                              "poll_interval_ms": 10, **options}))


def test_generator_commands_reach_the_board_and_it_is_left_safe(board):
    emulator = board.emulator
    emulator.line.load.present("B")  # the vehicle at the other end of the cable
    with bench_for(board) as bench:
        bench.cp.set_current(16)
        assert emulator.oscillator == "PWM 26.7"
        reading = bench.measure_pilot()
        assert (reading.state, reading.duty, reading.fault) == ("B", 26.7, None)
        assert reading.low == pytest.approx(-12.0)
        bench.cp.set_dc()
        assert emulator.oscillator == "DC" and bench.measure_pilot().duty is None
        bench.cp.set_state("F")
        assert emulator.oscillator == "F" and bench.measure_pilot().state == "F"
    assert emulator.evse_safe
    # made safe, then the session let go of the board: the watchdog is disarmed after OFF
    assert [c for c in emulator.received if c != "PING"][-2:] == ["OFF", "WDOG 0"]


def test_polling_during_a_wait_sees_the_vehicle_react(board):
    emulator = board.emulator
    emulator.line.load.present("B")
    with bench_for(board) as bench:
        bench.cp.set_pwm(50.0)
        # the "vehicle" closes S2 100 ms later, changing the board's physics; only polling can see it
        bench.runner.call_at(bench.clock.now() + 0.1, lambda: emulator.line.load.present("C"))
        result = bench.wait_for(lambda: bench.pilot_state == "C", T_test, "vehicle in C")
        assert result.reached and 0.1 <= result.elapsed < 1.0
        record = bench.timeline.first("state C")
        assert record is not None and record.src == "cp" and record.body["duty"] == 50.0


def test_load_side_states_faults_and_safe(board):
    emulator = board.emulator
    emulator.line.setting = CpSetting("pwm", 26.7)  # the charger at the other end
    with bench_for(board, side="pev") as bench:
        load = bench.cp_load
        load.set_state("C")
        assert emulator.load_state == "C" and bench.measure_pilot().state == "C"
        load.set_fault("no-diode")
        assert emulator.load_fault == "no-diode" and bench.measure_pilot().fault == "diode"
        with pytest.raises(ResourceUnavailable, match="needs cp-generator"):
            bench.cp  # noqa: B018 - a pev-side board has no generator
    assert emulator.pev_safe


def test_missing_port_skips_naming_it():
    rig = make_rig(cp={"driver": "serial", "port": "/dev/ttyCCSHIL-missing"})
    with Bench(rig) as bench, pytest.raises(ResourceUnavailable) as info:
        bench.cp  # noqa: B018
    assert str(info.value) == "needs cp-generator: serial CP board at /dev/ttyCCSHIL-missing not found"


def test_wrong_identity(board):
    board.emulator.idn = "ACME,PWM-2000,1,1"
    with bench_for(board) as bench, pytest.raises(InstrumentError, match=r"\*IDN\? answered 'ACME,PWM-2000"):
        bench.cp  # noqa: B018


def test_silent_board_times_out(board):
    board.emulator.mute = True
    with bench_for(board) as bench, pytest.raises(InstrumentTimeout, match=r"no answer to '\*IDN\?' within 300 ms"):
        bench.cp  # noqa: B018


def test_error_reply_and_wrong_readback(board):
    with bench_for(board) as bench:
        board.emulator.replies = {"PWM": "ERR busy"}
        with pytest.raises(InstrumentError, match="'PWM 5.0' refused: busy"):
            bench.cp.set_pwm(5.0)
        board.emulator.replies = {"OSC?": "DC"}
        with pytest.raises(InstrumentError, match="'OSC\\?' answered 'DC' after 'PWM 5.0'"):
            bench.cp.set_pwm(5.0)
        board.emulator.replies = {"MEAS?": "lots of volts"}
        with pytest.raises(InstrumentError, match="'MEAS\\?' answered 'lots of volts'"):
            bench.measure_pilot()
        board.emulator.replies = {}
    assert board.emulator.evse_safe


def test_emulator_protocol_errors():
    emulator = CpBoardEmulator(side="evse")
    assert emulator.handle("BOGUS") == "ERR unknown command"
    assert emulator.handle("PWM x") == "ERR bad argument"
    assert emulator.handle("LOAD C") == "ERR not supported"
    assert emulator.handle("") is None
    assert emulator.handle("PROTO?") == "1"
    assert emulator.handle("CAP?") == "EVSE MEAS WDOG RELAY"
    assert emulator.handle("WDOG -1") == "ERR bad argument" and emulator.handle("RELAY MAYBE") == "ERR bad argument"
    early = CpBoardEmulator(side="evse", features=())  # firmware without watchdog and relay
    assert early.handle("CAP?") == "EVSE MEAS" and early.handle("WDOG 2") == "ERR unknown command"


def test_heartbeats_keep_the_watchdog_fed_and_it_trips_when_they_stop(board):
    emulator = board.emulator
    emulator.line.load.present("B")
    with bench_for(board, watchdog_s=0.4) as bench:
        bench.cp.set_pwm(5.0)
        assert emulator.watchdog_s == 0.4
        # three watchdog periods of a test doing nothing but holding the pilot: the heartbeat thread feeds it
        assert not emulator.wait(lambda: emulator.watchdog_tripped, timeout=1.2)
        assert emulator.oscillator == "PWM 5.0"
        bench.cp_link.generator.board.stop_heartbeat()  # as if this process had died
        assert emulator.wait(lambda: emulator.watchdog_tripped, timeout=2.0)
        assert emulator.safe and emulator.oscillator == "OFF"  # the board switched itself off
        assert bench.cp_link.generator.board.watchdog_state() == "0.4 TRIPPED"


def test_a_board_without_watchdog_still_works():
    with PtyCpBoard(CpBoardEmulator(side="evse", features=())) as served, bench_for(served) as bench:
        bench.cp.set_dc()
        assert served.emulator.oscillator == "DC" and bench.cp_link.generator.board.watchdog_state() == "none"
