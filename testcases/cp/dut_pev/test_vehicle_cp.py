"""IEC 61851-1 control pilot, vehicle under test: our EVSE-side generator drives the pilot, the vehicle loads it.

Precondition on real rigs: the vehicle is plugged in, awake, and wants energy (battery not full).
"""

from __future__ import annotations

import pytest

from harness.assertions import assert_absent, assert_sequence, assert_within, step
from harness.bench import T_pilot_settle
from harness.records import Record
from stack import cp as iec
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("pev")

# ISO 15118-3: how long an EVSE waits at 5 % for SLAC before it falls back (E/F); within it an EV without a
# high-level session has no reason to close S2. (Declared here until the SLAC timers module names it.)
TT_EVSE_SLAC_init = SpecTimer("TT_EVSE_SLAC_init", 20.0, "ISO 15118-3 Table A.1: 20 s")


def offered_current(bench) -> float:
    limit = bench.rig.limits.get("max_current_a")
    return min(16.0, limit) if limit else 16.0


def negative_half_clamped(record: Record) -> bool:
    low = (record.body or {}).get("low")
    return low is not None and low in iec.NEGATIVE_BAND


def connect(bench, cp) -> None:
    """+12 V (X1) and the vehicle in B: the starting point of every vehicle test."""
    cp.set_dc()
    bench.expect(lambda: bench.pilot_state == "B", T_pilot_settle, "vehicle connected: pilot in state B (8–10 V)")


def start_charging(bench, cp) -> None:
    connect(bench, cp)
    cp.set_current(offered_current(bench))
    bench.expect(lambda: bench.pilot_state in ("C", "D"), iec.T_EV_C_after_PWM, "vehicle asks for energy (C/D)")


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-CP-EV-01")
@pytest.mark.needs("cp-measurement")
@pytest.mark.fails_with("r2-1k5", "short-to-pe")
def test_connected_vehicle_presents_state_B(bench, cp, timeline):
    """A connected vehicle that is not asking for energy loads the +12 V pilot to state B (8–10 V)."""
    connect(bench, cp)
    assert_sequence(timeline, [step("cp:oscillator", body={"mode": "dc"}), step("cp:state B", src="cp")])


@pytest.mark.requirement("CCSHIL-CP-EV-02")
@pytest.mark.needs("cp-pwm-measurement")
@pytest.mark.fails_with("no-diode")
def test_vehicle_diode_keeps_negative_half_at_minus_12V(bench, cp, timeline):
    """With PWM on, the vehicle's diode blocks the negative half: it stays at −12 V (−11…−13 V)."""
    connect(bench, cp)
    cp.set_pwm(iec.DIGITAL_COMMUNICATION_DUTY)
    bench.expect(lambda: bench.pilot is not None and bench.pilot.duty is not None, T_pilot_settle, "PWM on the pilot")
    assert_sequence(timeline, [step("cp:oscillator", body={"mode": "pwm"}),
                               step("cp:state *", src="cp", where=negative_half_clamped)])


@pytest.mark.requirement("CCSHIL-CP-EV-03")
@pytest.mark.fails_with("c-at-5-percent")
def test_vehicle_stays_in_B_at_5_percent_without_a_session(bench, cp, timeline):
    """5 % duty asks for digital communication: without a high-level session the vehicle does not close S2."""
    connect(bench, cp)
    pwm_on = len(timeline)
    cp.set_pwm(iec.DIGITAL_COMMUNICATION_DUTY)
    bench.hold(TT_EVSE_SLAC_init, "watch the pilot at 5 %")
    assert_absent(timeline, step("cp:state [CD]", src="cp"), after=pwm_on)


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-CP-EV-04")
@pytest.mark.fails_with("no-state-c", "late-state-c")
def test_vehicle_asks_for_energy_with_state_C_after_nominal_pwm(bench, cp, timeline):
    """A vehicle that wants energy switches B→C (or D) after the EVSE offers a current by PWM."""
    connect(bench, cp)
    cp.set_current(offered_current(bench))
    bench.wait_for(lambda: bench.pilot_state in ("C", "D"), iec.T_EV_C_after_PWM, "vehicle asks for energy")
    assert_within(timeline, step("cp:oscillator", body={"mode": "pwm"}), step("cp:state [CD]", src="cp"),
                  limit=iec.T_EV_C_after_PWM)


@pytest.mark.requirement("IEC61851-1:2017 Table A.6 Seq 10.2")
@pytest.mark.fails_with("ignores-pwm-stop")
def test_vehicle_returns_to_B_when_pwm_stops(bench, cp, timeline):
    """When the EVSE stops the PWM (X1) the vehicle opens S2 (C→B) before the EVSE's 6 s relay grace time."""
    start_charging(bench, cp)
    pwm_off = len(timeline)
    cp.set_dc()
    bench.wait_for(lambda: bench.pilot_state == "B", iec.T_EV_C_after_X1, "vehicle back in B")
    assert_within(timeline, step("cp:oscillator", body={"mode": "dc"}), step("cp:state B", src="cp"),
                  limit=iec.T_EV_C_after_X1, after=pwm_off)


@pytest.mark.requirement("CCSHIL-CP-EV-05")
@pytest.mark.parametrize("signal", ["E", "F"])
@pytest.mark.fails_with("ignores-pwm-stop")
def test_vehicle_does_not_resume_C_after_state_E_or_F(bench, cp, timeline, signal):
    """After the EVSE signals E or F (for T_step_EF) and returns to +12 V without PWM, the vehicle shows B."""
    start_charging(bench, cp)
    cp.set_state(signal)
    bench.hold(iec.T_step_EF, f"EVSE in state {signal}")
    back = len(timeline)
    cp.set_dc()
    bench.expect(lambda: bench.pilot_state is not None and bench.pilot_state not in ("E", "F"), T_pilot_settle,
                 "pilot back from E/F")
    bench.hold(T_pilot_settle, "let the reading settle")
    assert_absent(timeline, step("cp:state [CD]", src="cp"), after=back)
    assert_sequence(timeline, [step("cp:state B", src="cp")], after=back)
