"""Checks of a charger's DC power stage as the car sees it, shared by the DIN 70121 and ISO 15118-2 catalogues.

PreCharge and CurrentDemand carry the same fields in both standards (EVTargetVoltage/-Current, EVSEPresentVoltage/
-Current, the DC_EV/EVSEChargeParameter limits), so one check serves both; each test names its own requirement and
starts its own session, then calls one function here. The bounds are ccs-hil working values where the standards give
none (CCSHIL-DIN-PC/CD-*, CCSHIL-ISO2-PC/CD-* in testcases/requirements.csv).
"""

from __future__ import annotations

import math
from typing import Any

from harness.records import Record
from stack.timers import SpecTimer

PRECHARGE_WINDOW_V = 20.0  # ccs-hil working value: PreCharge is done within 20 V of the EV's target
DEFAULT_TOLERANCE_A = 5.0  # when the charger announces no EVSECurrentRegulationTolerance
T_current_settle = SpecTimer("T_current_settle", 5.0, "ccs-hil working value: time a charger may take to bring its "
                             "current to the EV's steady target after PowerDelivery(Start)")
LONG_CHARGE = {"charge_loops": None, "charge_time": 8.0}  # ~80 CurrentDemand exchanges: well past T_current_settle


def answered_pairs(v2g: Any, pair: str) -> list[tuple[Record, Record]]:
    """(request, response) of every answered `pair` exchange; the test fails when there is none."""
    __tracebackhide__ = True
    pairs = [(e.request, e.response) for e in v2g.exchanges(pair) if e.response is not None]
    v2g.check(pairs, f"no {pair} exchange (the session ended: {v2g.tester_end_reason()})")
    return pairs


def ev_limit(v2g: Any, name: str) -> float:
    """One of the DC_EVChargeParameter limits our car announced in its first ChargeParameterDiscoveryReq."""
    request = v2g.messages("ChargeParameterDiscoveryReq", sender="tester")[0]
    return v2g.physical(request, f"DC_EVChargeParameter.{name}")


def regulation_tolerance(v2g: Any) -> float:
    """The charger's announced EVSECurrentRegulationTolerance (DEFAULT_TOLERANCE_A when it announces none)."""
    offer = v2g.messages("ChargeParameterDiscoveryRes", sender="dut")[-1]
    value = v2g.physical(offer, "DC_EVSEChargeParameter.EVSECurrentRegulationTolerance")
    return DEFAULT_TOLERANCE_A if math.isnan(value) else value


def check_precharge_reaches_the_target(v2g: Any, timeout: SpecTimer) -> None:
    """EVSEPresentVoltage within PRECHARGE_WINDOW_V of the first EVTargetVoltage before `timeout`
    (V2G_EVCC_PreCharge_Timeout of the standard) runs out."""
    __tracebackhide__ = True
    first = v2g.expect("PreChargeReq")
    target = v2g.physical(first, "EVTargetVoltage")

    def reached(record: Record) -> bool:
        return (record.name == "PreChargeRes"
                and abs(v2g.physical(record, "EVSEPresentVoltage") - target) <= PRECHARGE_WINDOW_V)

    v2g.expect(reached, timeout, after=v2g.index(first),
               what=f"EVSEPresentVoltage within {PRECHARGE_WINDOW_V:g} V of {target:g} V")


def check_precharge_does_not_overshoot(v2g: Any) -> None:
    """No PreChargeRes above EVTargetVoltage + PRECHARGE_WINDOW_V or the EV's EVMaximumVoltageLimit."""
    __tracebackhide__ = True
    v2g.expect("PowerDeliveryReq")
    ev_max = ev_limit(v2g, "EVMaximumVoltageLimit")
    for request, response in answered_pairs(v2g, "PreCharge"):
        target, present = v2g.physical(request, "EVTargetVoltage"), v2g.physical(response, "EVSEPresentVoltage")
        v2g.check(present <= min(target + PRECHARGE_WINDOW_V, ev_max),
                  f"PreChargeRes {present:g} V for a target of {target:g} V (EV maximum {ev_max:g} V)", mark=response)


def check_current_follows_the_target(v2g: Any) -> None:
    """From T_current_settle after PowerDelivery(Start) on, EVSEPresentCurrent stays within the regulation tolerance
    of min(EVTargetCurrent, EVSEMaximumCurrentLimit) while the target is steady (at most that when the charger says
    it is at its current or power limit). Run the session with LONG_CHARGE."""
    __tracebackhide__ = True
    v2g.run_to_end()
    loop = answered_pairs(v2g, "CurrentDemand")
    start = v2g.messages("PowerDeliveryRes", sender="dut")[0]
    tol, samples, last_target = regulation_tolerance(v2g), 0, None
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


def check_current_within_the_ev_limits(v2g: Any) -> None:
    """EVSEPresentCurrent never above the EV's EVMaximumCurrentLimit, nor above EVTargetCurrent by more than the
    regulation tolerance + EVSEPeakCurrentRipple."""
    __tracebackhide__ = True
    v2g.run_to_end()
    loop = answered_pairs(v2g, "CurrentDemand")
    offer = v2g.messages("ChargeParameterDiscoveryRes", sender="dut")[-1]
    ripple = v2g.physical(offer, "DC_EVSEChargeParameter.EVSEPeakCurrentRipple")
    slack = regulation_tolerance(v2g) + (0.0 if math.isnan(ripple) else ripple)
    for request, response in loop:
        ev_max = min(ev_limit(v2g, "EVMaximumCurrentLimit"), v2g.physical(request, "EVMaximumCurrentLimit"))
        target, present = v2g.physical(request, "EVTargetCurrent"), v2g.physical(response, "EVSEPresentCurrent")
        v2g.check(present <= ev_max and present <= target + slack,
                  f"EVSEPresentCurrent {present:g} A: EV maximum {ev_max:g} A, target {target:g} A (+{slack:g} A)",
                  mark=response)


def check_voltage_within_the_ev_maximum(v2g: Any) -> None:
    """EVSEPresentVoltage never above the EV's EVMaximumVoltageLimit in the charge loop."""
    __tracebackhide__ = True
    v2g.run_to_end()
    for request, response in answered_pairs(v2g, "CurrentDemand"):
        ev_max = min(ev_limit(v2g, "EVMaximumVoltageLimit"), v2g.physical(request, "EVMaximumVoltageLimit"))
        present = v2g.physical(response, "EVSEPresentVoltage")
        v2g.check(present <= ev_max, f"EVSEPresentVoltage {present:g} V above the EV's maximum {ev_max:g} V",
                  mark=response)


def check_current_within_the_chargers_own_limit(v2g: Any) -> None:
    """EVSEPresentCurrent within the EVSEMaximumCurrentLimit the same CurrentDemandRes announces (+ tolerance)."""
    __tracebackhide__ = True
    v2g.run_to_end()
    loop = answered_pairs(v2g, "CurrentDemand")
    tol = regulation_tolerance(v2g)
    for _, response in loop:
        limit, present = v2g.physical(response, "EVSEMaximumCurrentLimit"), v2g.physical(response, "EVSEPresentCurrent")
        v2g.check(math.isnan(limit) or present <= limit + tol,
                  f"EVSEPresentCurrent {present:g} A above the announced EVSEMaximumCurrentLimit {limit:g} A",
                  mark=response)
