"""IEC 61851-1 control pilot, charger under test: our vehicle-side load presents states, the charger drives the pilot.

Precondition on real rigs: the charger is powered, idle and ready for a vehicle; `[dut] max_current_a` in the rig
file is the current limit configured in it.
"""

from __future__ import annotations

import pytest

from harness.assertions import assert_absent, assert_sequence, assert_within, fail_with_timeline, step
from harness.bench import T_pilot_settle
from harness.records import Record
from stack import cp as iec

pytestmark = pytest.mark.dut_role("evse")


def has_pwm(record: Record) -> bool:
    return (record.body or {}).get("duty") is not None


def no_pwm(record: Record) -> bool:
    return (record.body or {}).get("duty") is None


def drives_minus_12V(record: Record) -> bool:
    """State F seen from the vehicle side: a steady negative level. With the vehicle's diode missing the −12 V
    source is divided by the vehicle's resistors (≈ −5.6 V in C), so the level alone cannot say "F"."""
    body = record.body or {}
    return body.get("state") == "F" or (body.get("duty") is None and (body.get("volts") or 0.0) <= -3.0)


def unplugged_then_connected(bench, cp_load) -> int:
    """Start from A (no vehicle), then present B; returns the timeline index of the connection."""
    cp_load.set_state("A")
    bench.expect(lambda: bench.pilot_state == "A", T_pilot_settle, "no vehicle: pilot in state A")
    mark = len(bench.timeline)
    cp_load.set_state("B")
    bench.expect(lambda: bench.pilot is not None and bench.pilot.duty is not None, iec.T_EVSE_PWM_after_B,
                 "charger starts PWM after B")
    return mark


@pytest.mark.requirement("CCSHIL-CP-SE-01")
@pytest.mark.needs("cp-measurement")
@pytest.mark.fails_with("pwm-without-vehicle")
def test_charger_idles_at_plus_12V_without_vehicle(bench, cp_load, timeline):
    """Without a vehicle the charger holds the pilot at +12 V (state A) with no PWM (A1)."""
    cp_load.set_state("A")
    bench.hold(iec.T_EVSE_PWM_after_B, "watch the idle pilot")
    assert_sequence(timeline, [step("cp:state A", src="cp", where=no_pwm)])
    assert_absent(timeline, step("cp:state *", src="cp", where=has_pwm))


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-CP-SE-02")
@pytest.mark.fails_with("no-pwm")
def test_charger_starts_pwm_after_vehicle_connects(bench, cp_load, timeline):
    """When a vehicle connects (B) the charger starts the 1 kHz PWM."""
    cp_load.set_state("A")
    bench.expect(lambda: bench.pilot_state == "A", T_pilot_settle, "no vehicle: pilot in state A")
    mark = len(timeline)
    cp_load.set_state("B")
    bench.wait_for(lambda: bench.pilot is not None and bench.pilot.duty is not None, iec.T_EVSE_PWM_after_B,
                   "charger starts PWM")
    assert_within(timeline, step("cp:load", body={"state": "B"}), step("cp:state B", src="cp", where=has_pwm),
                  limit=iec.T_EVSE_PWM_after_B, after=mark)


@pytest.mark.requirement("CCSHIL-CP-SE-03")
@pytest.mark.needs("cp-pwm-measurement")
@pytest.mark.fails_with("wrong-duty")
def test_charger_duty_matches_its_current_limit(bench, cp_load, dut, timeline):
    """The charger's duty is the IEC 61851-1 duty for its configured current (or 5 % with high-level
    communication), within ±0.5 % (±5 µs at 1 kHz), at 1 kHz ± 2 %."""
    if dut.max_current_a is None and not dut.hlc:
        pytest.skip(f"needs dut.max_current_a: rig {bench.rig.name} does not say the charger's current limit")
    expected = iec.DIGITAL_COMMUNICATION_DUTY if dut.hlc else iec.duty_for_current(dut.max_current_a)
    unplugged_then_connected(bench, cp_load)
    bench.hold(T_pilot_settle, "let the PWM settle")
    reading = bench.measure_pilot()
    what = "5 % (digital communication)" if dut.hlc else f"{expected:.2f} % for {dut.max_current_a:g} A"
    if not iec.duty_within_tolerance(reading.duty, expected):
        fail_with_timeline(timeline, f"duty {reading.duty} %, expected {what} ± {iec.DUTY_TOLERANCE_PERCENT:g} %")
    if reading.frequency is not None and not iec.frequency_ok(reading.frequency):
        fail_with_timeline(timeline, f"PWM at {reading.frequency:g} Hz, expected 1000 Hz ± 2 %")


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-CP-SE-04")
@pytest.mark.fails_with("pwm-when-unplugged", "slow-pwm-stop")
def test_charger_stops_pwm_when_vehicle_unplugs(bench, cp_load, timeline):
    """When the vehicle is unplugged (B2→A) the charger stops the PWM and returns to +12 V (A1)."""
    unplugged_then_connected(bench, cp_load)
    mark = len(timeline)
    cp_load.set_state("A")
    bench.wait_for(lambda: bench.pilot is not None and bench.pilot.state == "A" and bench.pilot.duty is None,
                   iec.T_EVSE_PWM_off_after_A, "charger stops PWM")
    assert_within(timeline, step("cp:load", body={"state": "A"}), step("cp:state A", src="cp", where=no_pwm),
                  limit=iec.T_EVSE_PWM_off_after_A, after=mark)


@pytest.mark.requirement("IEC61851-1:2017 Table A.5")
@pytest.mark.needs("cp-load-faults")
@pytest.mark.fails_with("no-state-f")
def test_charger_signals_F_when_vehicle_diode_is_missing(bench, cp_load, timeline):
    """A vehicle whose CP diode is missing is a fault that stops charging: the charger shows state F (−12 V)."""
    unplugged_then_connected(bench, cp_load)
    cp_load.set_state("C")
    bench.hold(T_pilot_settle, "vehicle in C")
    mark = len(timeline)
    cp_load.set_fault("no-diode")
    bench.wait_for(lambda: bench.pilot is not None and bench.pilot.duty is None and bench.pilot.high <= -3.0,
                   iec.T_EVSE_deenergise, "charger shows F")
    assert_within(timeline, step("cp:load", body={"fault": "no-diode"}),
                  step("cp:state *", src="cp", where=drives_minus_12V), limit=iec.T_EVSE_deenergise, after=mark)
