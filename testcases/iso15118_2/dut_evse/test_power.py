"""ISO 15118-2, charger under test: PreCharge (the car's target voltage reached in time, no overshoot), the DC
charge loop (present current follows the car's target; present current and voltage stay within both sides'
limits) and ReceiptRequired under EIM [V2G2-691]."""

from __future__ import annotations

import math

import pytest

from stack.sessions.iso15118_2 import V2G_EVCC_PreCharge_Timeout
from stack.timers import SpecTimer

from ..support import AC, DC, answered

pytestmark = pytest.mark.dut_role("evse")

PRECHARGE_WINDOW_V = 20.0  # ccs-hil working value (CCSHIL-ISO2-PC-01/02)
DEFAULT_TOLERANCE_A = 5.0  # when the charger announces no EVSECurrentRegulationTolerance
T_current_settle = SpecTimer("T_current_settle", 5.0, "ccs-hil working value: time a charger may take to bring its "
                             "current to the EV's steady target after PowerDelivery(Start)")
LONG_CHARGE = {"charge_loops": None, "charge_time": 8.0}  # past T_current_settle


def ev_limit(v2g, name: str) -> float:
    request = v2g.messages("ChargeParameterDiscoveryReq", sender="tester")[0]
    return v2g.physical(request, f"DC_EVChargeParameter.{name}")


def tolerance(v2g) -> float:
    offer = v2g.messages("ChargeParameterDiscoveryRes", sender="dut")[-1]
    value = v2g.physical(offer, "DC_EVSEChargeParameter.EVSECurrentRegulationTolerance")
    return DEFAULT_TOLERANCE_A if math.isnan(value) else value


def charge_loop(v2g):
    loop = [(e.request, e.response) for e in answered(v2g, "CurrentDemand")]
    v2g.check(loop, f"no CurrentDemand exchange (the session ended: {v2g.tester_end_reason()})")
    return loop


@pytest.mark.requirement("CCSHIL-ISO2-PC-01")
@pytest.mark.fails_with("evse-precharge-no-voltage")
def test_precharge_reaches_the_target_voltage_in_time(v2g):
    """During PreCharge the charger brings EVSEPresentVoltage within 20 V of the car's EVTargetVoltage before
    V2G_EVCC_PreCharge_Timeout (7 s) runs out."""
    v2g.start(DC)
    first = v2g.expect("PreChargeReq")
    target = v2g.physical(first, "EVTargetVoltage")

    def reached(record):
        return (record.name == "PreChargeRes"
                and abs(v2g.physical(record, "EVSEPresentVoltage") - target) <= PRECHARGE_WINDOW_V)

    v2g.expect(reached, V2G_EVCC_PreCharge_Timeout, after=v2g.index(first),
               what=f"EVSEPresentVoltage within {PRECHARGE_WINDOW_V:g} V of {target:g} V")


@pytest.mark.requirement("CCSHIL-ISO2-PC-02")
@pytest.mark.fails_with("evse-precharge-overshoot")
def test_precharge_does_not_overshoot_the_target(v2g):
    """During PreCharge EVSEPresentVoltage never exceeds the car's EVTargetVoltage by more than 20 V, nor the car's
    EVMaximumVoltageLimit."""
    v2g.start(DC)
    v2g.run_to_end()
    pairs = [(e.request, e.response) for e in answered(v2g, "PreCharge")]
    v2g.check(pairs, f"no PreCharge exchange (the session ended: {v2g.tester_end_reason()})")
    ev_max = ev_limit(v2g, "EVMaximumVoltageLimit")
    for request, response in pairs:
        target, present = v2g.physical(request, "EVTargetVoltage"), v2g.physical(response, "EVSEPresentVoltage")
        v2g.check(present <= min(target + PRECHARGE_WINDOW_V, ev_max),
                  f"PreChargeRes {present:g} V for a target of {target:g} V (car maximum {ev_max:g} V)", mark=response)


@pytest.mark.requirement("CCSHIL-ISO2-CD-01")
@pytest.mark.fails_with("evse-current-not-tracking")
def test_present_current_follows_the_target(v2g):
    """From T_current_settle after PowerDelivery(Start) on, EVSEPresentCurrent stays within
    EVSECurrentRegulationTolerance (5 A when none is announced) of min(EVTargetCurrent, EVSEMaximumCurrentLimit)
    while the target is steady."""
    v2g.start(DC, tester=LONG_CHARGE)
    v2g.run_to_end()
    loop = charge_loop(v2g)
    start = v2g.messages("PowerDeliveryRes", sender="dut")[0]
    tol, samples, last_target = tolerance(v2g), 0, None
    for request, response in loop:
        target = v2g.physical(request, "EVTargetCurrent")
        steady, last_target = target == last_target, target
        if response.t - start.t < T_current_settle.seconds or not steady or target <= 0:
            continue
        limit = v2g.physical(response, "EVSEMaximumCurrentLimit")
        expected = min(target, limit) if not math.isnan(limit) else target
        present = v2g.physical(response, "EVSEPresentCurrent")
        limited = v2g.field(response, "EVSEPowerLimitAchieved") or v2g.field(response, "EVSECurrentLimitAchieved")
        fine = present <= expected + tol if limited else abs(present - expected) <= tol
        v2g.check(fine, f"EVSEPresentCurrent {present:g} A for a steady target of {target:g} A (limit {limit:g} A, "
                  f"tolerance {tol:g} A)", mark=response)
        samples += 1
    v2g.check(samples, f"no CurrentDemand exchange later than {T_current_settle} after PowerDelivery(Start)")


@pytest.mark.requirement("CCSHIL-ISO2-CD-02")
@pytest.mark.fails_with("evse-current-overshoot")
def test_present_current_stays_within_the_cars_limits(v2g):
    """EVSEPresentCurrent never exceeds the car's EVMaximumCurrentLimit, nor its EVTargetCurrent by more than
    EVSECurrentRegulationTolerance + EVSEPeakCurrentRipple."""
    v2g.start(DC)
    v2g.run_to_end()
    loop = charge_loop(v2g)
    offer = v2g.messages("ChargeParameterDiscoveryRes", sender="dut")[-1]
    ripple = v2g.physical(offer, "DC_EVSEChargeParameter.EVSEPeakCurrentRipple")
    slack = tolerance(v2g) + (0.0 if math.isnan(ripple) else ripple)
    for request, response in loop:
        ev_max = min(ev_limit(v2g, "EVMaximumCurrentLimit"), v2g.physical(request, "EVMaximumCurrentLimit"))
        target, present = v2g.physical(request, "EVTargetCurrent"), v2g.physical(response, "EVSEPresentCurrent")
        v2g.check(present <= ev_max and present <= target + slack,
                  f"EVSEPresentCurrent {present:g} A: car maximum {ev_max:g} A, target {target:g} A (+{slack:g} A)",
                  mark=response)


@pytest.mark.requirement("CCSHIL-ISO2-CD-03")
@pytest.mark.fails_with("evse-voltage-over-ev-max")
def test_present_voltage_stays_within_the_cars_maximum(v2g):
    """EVSEPresentVoltage never exceeds the car's EVMaximumVoltageLimit in the charge loop."""
    v2g.start(DC)
    v2g.run_to_end()
    for request, response in charge_loop(v2g):
        ev_max = min(ev_limit(v2g, "EVMaximumVoltageLimit"), v2g.physical(request, "EVMaximumVoltageLimit"))
        present = v2g.physical(response, "EVSEPresentVoltage")
        v2g.check(present <= ev_max, f"EVSEPresentVoltage {present:g} V above the car's maximum {ev_max:g} V",
                  mark=response)


@pytest.mark.requirement("CCSHIL-ISO2-CD-04")
@pytest.mark.fails_with("evse-exceeds-own-current-limit")
def test_present_current_stays_within_the_chargers_own_limit(v2g):
    """EVSEPresentCurrent stays within the EVSEMaximumCurrentLimit the same CurrentDemandRes announces
    (+ EVSECurrentRegulationTolerance)."""
    v2g.start(DC)
    v2g.run_to_end()
    tol = tolerance(v2g)
    for _, response in charge_loop(v2g):
        limit, present = v2g.physical(response, "EVSEMaximumCurrentLimit"), v2g.physical(response, "EVSEPresentCurrent")
        v2g.check(math.isnan(limit) or present <= limit + tol,
                  f"EVSEPresentCurrent {present:g} A above the announced EVSEMaximumCurrentLimit {limit:g} A",
                  mark=response)


@pytest.mark.requirement("V2G2-691")
@pytest.mark.fails_with("evse-receipt-required-eim")
@pytest.mark.parametrize(("protocol", "loop"), [(DC, "CurrentDemandRes"), (AC, "ChargingStatusRes")])
def test_no_metering_receipt_is_asked_for_under_eim(v2g, protocol, loop):
    """In an EIM session (ExternalPayment) the charger never sets ReceiptRequired=true in the charge loop."""
    v2g.start(protocol)
    v2g.run_to_end()
    responses = v2g.messages(loop, sender="dut")
    v2g.check(responses, f"no {loop} (the session ended: {v2g.tester_end_reason()})")
    for response in responses:
        v2g.check(v2g.field(response, "ReceiptRequired") in (None, False),
                  f"{loop} ReceiptRequired={v2g.field(response, 'ReceiptRequired')} in an EIM session", mark=response)
