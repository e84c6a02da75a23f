"""IEC 61851-1 control pilot, charger under test: the state sequence, the PWM frequency and how fast the charger
energises and de-energises its outlet as the vehicle changes state (basic AC charging).

Precondition on real rigs: as test_charger_cp.py; the energise tests also need a voltage sense on the charger's
outlet (`evse-output-sense`: `power` records `outlet on` / `outlet off`).
"""

from __future__ import annotations

import pytest

from harness.assertions import assert_absent, assert_sequence, assert_within, fail_with_timeline, first, step
from harness.bench import T_pilot_settle
from harness.records import Record
from stack import cp as iec

pytestmark = pytest.mark.dut_role("evse")

OUTLET_ON = step("power:outlet on", src="outlet-sense")
OUTLET_OFF = step("power:outlet off", src="outlet-sense")


def pwm(record: Record) -> bool:
    return (record.body or {}).get("duty") is not None


def steady(record: Record) -> bool:
    return (record.body or {}).get("duty") is None


def pilot(state: str, with_pwm: bool) -> object:
    return step(f"cp:state {state}", src="cp", where=pwm if with_pwm else steady)


def charging(bench, cp_load) -> int:
    """A → B (PWM) → C, outlet energised; returns the timeline index after which it is energised."""
    cp_load.set_state("A")
    bench.expect(lambda: bench.pilot_state == "A", T_pilot_settle, "no vehicle: pilot in state A")
    cp_load.set_state("B")
    bench.expect(lambda: bench.pilot is not None and bench.pilot.duty is not None, iec.T_EVSE_PWM_after_B,
                 "charger starts PWM after B")
    cp_load.set_state("C")
    bench.expect(lambda: first(bench.timeline, OUTLET_ON) is not None, iec.T_EVSE_energise,
                 "charger energises the outlet after C")
    return len(bench.timeline)


@pytest.mark.requirement("CCSHIL-CP-SE-05")
@pytest.mark.fails_with("no-pwm", "pwm-when-unplugged")
def test_charger_follows_the_vehicle_through_A_B_C_B_A(bench, cp_load, timeline):
    """As the vehicle goes A→B→C→B→A the pilot shows A1, B2, C2, B2 and A1 again, each within its reaction time."""
    begin = len(timeline)
    cp_load.set_state("A")
    bench.hold(T_pilot_settle, "no vehicle")
    for state, limit, what in (("B", iec.T_EVSE_PWM_after_B, "PWM on in B"), ("C", T_pilot_settle, "C2"),
                               ("B", T_pilot_settle, "back in B2"), ("A", iec.T_EVSE_PWM_off_after_A, "A1")):
        cp_load.set_state(state)
        bench.wait_for(lambda state=state: bench.pilot_state == state and
                       (bench.pilot.duty is not None) == (state != "A"), limit, what)
    assert_sequence(timeline, [step("cp:load", body={"state": "A"}), "cp:load", pilot("B", True), "cp:load", pilot("C", True),
                               "cp:load", pilot("B", True), "cp:load", pilot("A", False)], after=begin)
    unplugged = len(timeline) - 1
    while unplugged > begin and not step("cp:load", body={"state": "A"}).matches(timeline.records[unplugged]):
        unplugged -= 1
    assert_within(timeline, step("cp:load", body={"state": "A"}), pilot("A", False),
                  limit=iec.T_EVSE_PWM_off_after_A, after=unplugged)


@pytest.mark.requirement("CCSHIL-CP-SE-03")
@pytest.mark.needs("cp-pwm-measurement")
@pytest.mark.fails_with("pwm-1100hz")
def test_charger_pwm_runs_at_1kHz(bench, cp_load, timeline):
    """The charger's PWM runs at 1 kHz ± 2 %."""
    cp_load.set_state("A")
    bench.expect(lambda: bench.pilot_state == "A", T_pilot_settle, "no vehicle: pilot in state A")
    cp_load.set_state("B")
    bench.expect(lambda: bench.pilot is not None and bench.pilot.duty is not None, iec.T_EVSE_PWM_after_B,
                 "charger starts PWM after B")
    bench.hold(T_pilot_settle, "let the PWM settle")
    reading = bench.measure_pilot()
    if reading.frequency is None:
        pytest.skip(f"needs cp-frequency-measurement: rig {bench.rig.name}'s instrument reports no frequency")
    if not iec.frequency_ok(reading.frequency):
        fail_with_timeline(timeline, f"PWM at {reading.frequency:g} Hz, expected {iec.PWM_FREQUENCY_HZ:g} Hz "
                                     f"± {iec.PWM_FREQUENCY_TOLERANCE * 100:g} %")


@pytest.mark.requirement("CCSHIL-CP-SE-06")
@pytest.mark.needs("evse-output-sense")
@pytest.mark.fails_with("slow-energise")
def test_charger_energises_within_3s_of_state_C(bench, cp_load, timeline):
    """When the vehicle asks for energy (B→C at a nominal duty) the charger energises its outlet within 3 s."""
    cp_load.set_state("A")
    bench.expect(lambda: bench.pilot_state == "A", T_pilot_settle, "no vehicle: pilot in state A")
    cp_load.set_state("B")
    bench.expect(lambda: bench.pilot is not None and bench.pilot.duty is not None, iec.T_EVSE_PWM_after_B,
                 "charger starts PWM after B")
    mark = len(timeline)
    cp_load.set_state("C")
    bench.wait_for(lambda: first(timeline, OUTLET_ON, after=mark) is not None, iec.T_EVSE_energise,
                   "outlet energised")
    assert_within(timeline, step("cp:load", body={"state": "C"}), OUTLET_ON, limit=iec.T_EVSE_energise, after=mark)


@pytest.mark.requirement("CCSHIL-CP-SE-07")
@pytest.mark.needs("evse-output-sense")
@pytest.mark.fails_with("energises-in-b")
def test_charger_does_not_energise_while_the_vehicle_is_in_B(bench, cp_load, timeline):
    """While the vehicle stays in B (connected, not asking for energy) the charger keeps its outlet de-energised."""
    cp_load.set_state("A")
    bench.expect(lambda: bench.pilot_state == "A", T_pilot_settle, "no vehicle: pilot in state A")
    mark = len(timeline)
    cp_load.set_state("B")
    bench.hold(iec.T_EVSE_energise, "vehicle in B")
    bench.hold(iec.T_EVSE_energise, "vehicle still in B")
    assert_sequence(timeline, [pilot("B", True)], after=mark)
    assert_absent(timeline, OUTLET_ON, after=mark)


@pytest.mark.requirement("IEC61851-1:2017 Table A.6 Seq 8.1")
@pytest.mark.needs("evse-output-sense")
@pytest.mark.fails_with("slow-deenergise")
def test_charger_de_energises_within_100ms_of_C_to_B(bench, cp_load, timeline):
    """When the vehicle goes from C back to B the charger de-energises its outlet within 100 ms."""
    charging(bench, cp_load)
    mark = len(timeline)
    cp_load.set_state("B")
    bench.wait_for(lambda: first(timeline, OUTLET_OFF, after=mark) is not None, iec.T_EVSE_energise,
                   "outlet de-energised")
    assert_within(timeline, step("cp:load", body={"state": "B"}), OUTLET_OFF, limit=iec.T_EVSE_deenergise,
                  after=mark)


@pytest.mark.requirement("CCSHIL-CP-SE-08")
@pytest.mark.needs("evse-output-sense")
@pytest.mark.fails_with("slow-deenergise", "pwm-when-unplugged")
def test_charger_de_energises_when_unplugged_while_charging(bench, cp_load, timeline):
    """A vehicle unplugged while charging (C→A): the outlet is off within 100 ms and the PWM stops (A1)."""
    charging(bench, cp_load)
    mark = len(timeline)
    cp_load.set_state("A")
    bench.wait_for(lambda: first(timeline, OUTLET_OFF, after=mark) is not None and bench.pilot_state == "A"
                   and bench.pilot.duty is None, iec.T_EVSE_energise, "outlet off, PWM off")
    assert_within(timeline, step("cp:load", body={"state": "A"}), OUTLET_OFF, limit=iec.T_EVSE_deenergise,
                  after=mark)
    assert_within(timeline, step("cp:load", body={"state": "A"}), pilot("A", False),
                  limit=iec.T_EVSE_PWM_off_after_A, after=mark)


@pytest.mark.requirement("CCSHIL-CP-SE-09")
@pytest.mark.needs("evse-output-sense", "cp-load-faults")
@pytest.mark.fails_with("ignores-state-e", "slow-deenergise")
def test_charger_de_energises_when_the_pilot_is_shorted_to_PE(bench, cp_load, timeline):
    """A CP–PE short while charging (state E) is an error: the charger de-energises within 100 ms and stops the PWM."""
    charging(bench, cp_load)
    mark = len(timeline)
    cp_load.set_fault("short-to-pe")
    bench.wait_for(lambda: first(timeline, OUTLET_OFF, after=mark) is not None and bench.pilot.duty is None,
                   iec.T_EVSE_energise, "outlet de-energised, PWM off")
    assert_within(timeline, step("cp:load", body={"fault": "short-to-pe"}), OUTLET_OFF, limit=iec.T_EVSE_deenergise,
                  after=mark)
    assert_within(timeline, step("cp:load", body={"fault": "short-to-pe"}), pilot("E", False),
                  limit=iec.T_EVSE_deenergise, after=mark)
