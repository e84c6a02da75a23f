"""stack/cp.py: bands, classification, duty ↔ current, transitions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack import cp


@pytest.mark.parametrize(("volts", "state"), [
    (12.0, "A"), (11.0, "A"), (13.0, "A"), (9.0, "B"), (8.0, "B"), (10.0, "B"), (6.0, "C"), (3.0, "D"),
    (0.0, "E"), (-0.9, "E"), (-12.0, "F"), (-11.0, "F"),
    (10.5, "?"), (7.5, "?"), (4.5, "?"), (1.5, "?"), (-5.0, "?"), (-13.5, "?"),
])
def test_level_bands(volts, state):
    assert cp.classify_level(volts) == state


def test_vehicle_resistors_put_the_levels_at_the_nominal_band_centres():
    # 12 V through 1 kΩ into diode + load: B 9 V, C 6 V, D 3 V (within 0.1 V of nominal with a 0.7 V diode)
    for state, ohms in cp.VEHICLE_LOAD_OHM.items():
        current = (cp.GENERATOR_HIGH_V - cp.DIODE_DROP_V) / (cp.SOURCE_RESISTANCE_OHM + ohms)
        volts = cp.DIODE_DROP_V + current * ohms
        assert abs(volts - cp.BANDS[state].nominal) < 0.1, state
    assert cp.VEHICLE_LOAD_OHM["C"] == pytest.approx(882, abs=1)
    assert cp.VEHICLE_LOAD_OHM["D"] == pytest.approx(246, abs=1)


def test_classify_pwm_with_diode_is_clean_and_without_diode_is_a_fault():
    good = cp.classify(9.0, -12.0, 5.0, 1000.0)
    assert (good.state, good.substate, good.fault) == ("B", "B2", None)
    bad = cp.classify(9.0, -8.8, 5.0, 1000.0)
    assert (bad.state, bad.fault) == ("B", "diode")


def test_classify_steady_level_has_no_duty_and_substate_1():
    reading = cp.classify(12.0)
    assert (reading.state, reading.duty, reading.substate) == ("A", None, "A1")
    assert cp.classify(9.0, duty=100.0).duty is None  # 100 % is no PWM


def test_classify_between_bands_and_bad_frequency():
    assert cp.classify(7.5).fault == "level" and cp.classify(7.5).state == "?"
    assert cp.classify(6.0, -12.0, 50.0, 1100.0).fault == "frequency"
    assert cp.classify(6.0, -12.0, 50.0, 1019.0).fault is None


@pytest.mark.parametrize(("duty", "kind", "amps"), [
    (None, "x1", None), (100.0, "x1", None), (0.0, "forbidden", None), (2.9, "forbidden", None),
    (3.0, "digital", None), (5.0, "digital", None), (7.0, "digital", None), (7.5, "forbidden", None),
    (8.0, "current", 6.0), (9.9, "current", 6.0), (10.0, "current", 6.0), (50.0, "current", 30.0),
    (85.0, "current", 51.0), (90.0, "current", 65.0), (96.0, "current", 80.0), (96.5, "current", 80.0),
    (97.5, "forbidden", None),
])
def test_vehicle_reading_of_duty(duty, kind, amps):
    meaning = cp.interpret_duty(duty)
    assert meaning.kind == kind
    assert meaning.amps == (pytest.approx(amps) if amps is not None else None)


@pytest.mark.parametrize(("amps", "duty"), [(6, 10.0), (16, 26.667), (32, 53.333), (51, 85.0), (52, 85.0), (52.5, 85.0), (63, 89.2),
                                            (80, 96.0)])
def test_duty_for_current(amps, duty):
    assert cp.duty_for_current(amps) == pytest.approx(duty, abs=1e-3)


@pytest.mark.parametrize("amps", [5.9, 80.1, 0, -1])
def test_duty_for_current_out_of_range(amps):
    with pytest.raises(ValueError, match="cannot be signalled"):
        cp.duty_for_current(amps)


@given(st.floats(min_value=6.0, max_value=80.0))
def test_current_round_trips_through_duty(amps):
    read_back = cp.current_for_duty(cp.duty_for_current(amps))
    if 51.0 < amps <= 52.5:  # the gap between the two formulas: signal the lower value, never more
        assert read_back == pytest.approx(51.0)
    else:
        assert read_back == pytest.approx(amps, rel=1e-9)


def test_digital_communication_and_tolerance():
    assert cp.is_digital_communication(5.0) and not cp.is_digital_communication(10.0)
    assert pytest.approx(0.5) == cp.DUTY_TOLERANCE_PERCENT
    assert cp.duty_within_tolerance(5.5, 5.0) and not cp.duty_within_tolerance(5.6, 5.0)
    assert not cp.duty_within_tolerance(None, 5.0)


@pytest.mark.parametrize(("a", "b", "ok"), [
    ("A", "B", True), ("B", "C", True), ("C", "B", True), ("B", "D", True), ("C", "A", True),
    ("A", "C", False), ("A", "D", False), ("B", "B", True), ("C", "F", True), ("F", "B", True),
    ("E", "A", True), ("A", "?", False),
])
def test_transitions(a, b, ok):
    assert cp.transition_allowed(a, b) is ok
    assert (cp.transition_problem(a, b) is None) is ok


def test_transition_problem_says_why():
    assert "only through B" in cp.transition_problem("A", "C")


def test_timers_are_named_as_their_source():
    assert cp.T_EV_C_after_X1.seconds == 6.0 and "Seq 10.2" in cp.T_EV_C_after_X1.source
