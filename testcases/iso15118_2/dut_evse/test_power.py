"""ISO 15118-2, charger under test: PreCharge (the car's target voltage reached in time, no overshoot), the DC
charge loop (present current follows the car's target; present current and voltage stay within both sides'
limits) and ReceiptRequired under EIM [V2G2-691]. The DC checks are shared with the DIN 70121 catalogue
(harness.catalogue.dc_power)."""

from __future__ import annotations

import pytest

from harness.catalogue import dc_power
from stack.sessions.iso15118_2 import V2G_EVCC_PreCharge_Timeout

from ..support import AC, DC

pytestmark = pytest.mark.dut_role("evse")


@pytest.mark.requirement("CCSHIL-ISO2-PC-01")
@pytest.mark.fails_with("evse-precharge-no-voltage")
def test_precharge_reaches_the_target_voltage_in_time(v2g):
    """During PreCharge the charger brings EVSEPresentVoltage within 20 V of the car's EVTargetVoltage before
    V2G_EVCC_PreCharge_Timeout (7 s) runs out."""
    v2g.start(DC)
    dc_power.check_precharge_reaches_the_target(v2g, V2G_EVCC_PreCharge_Timeout)


@pytest.mark.requirement("CCSHIL-ISO2-PC-02")
@pytest.mark.fails_with("evse-precharge-overshoot")
def test_precharge_does_not_overshoot_the_target(v2g):
    """During PreCharge EVSEPresentVoltage never exceeds the car's EVTargetVoltage by more than 20 V, nor its
    EVMaximumVoltageLimit."""
    v2g.start(DC)
    dc_power.check_precharge_does_not_overshoot(v2g)


@pytest.mark.requirement("CCSHIL-ISO2-CD-01")
@pytest.mark.fails_with("evse-current-not-tracking")
def test_present_current_follows_the_target(v2g):
    """From T_current_settle after PowerDelivery(Start) on, EVSEPresentCurrent stays within
    EVSECurrentRegulationTolerance (5 A when none is announced) of min(EVTargetCurrent, EVSEMaximumCurrentLimit)
    while the target is steady."""
    v2g.start(DC, tester=dc_power.LONG_CHARGE)
    dc_power.check_current_follows_the_target(v2g)


@pytest.mark.requirement("CCSHIL-ISO2-CD-02")
@pytest.mark.fails_with("evse-current-overshoot")
def test_present_current_stays_within_the_cars_limits(v2g):
    """EVSEPresentCurrent never exceeds the car's EVMaximumCurrentLimit, nor its EVTargetCurrent by more than
    EVSECurrentRegulationTolerance + EVSEPeakCurrentRipple."""
    v2g.start(DC)
    dc_power.check_current_within_the_ev_limits(v2g)


@pytest.mark.requirement("CCSHIL-ISO2-CD-03")
@pytest.mark.fails_with("evse-voltage-over-ev-max")
def test_present_voltage_stays_within_the_cars_maximum(v2g):
    """EVSEPresentVoltage never exceeds the car's EVMaximumVoltageLimit in the charge loop."""
    v2g.start(DC)
    dc_power.check_voltage_within_the_ev_maximum(v2g)


@pytest.mark.requirement("CCSHIL-ISO2-CD-04")
@pytest.mark.fails_with("evse-exceeds-own-current-limit")
def test_present_current_stays_within_the_chargers_own_limit(v2g):
    """EVSEPresentCurrent stays within the EVSEMaximumCurrentLimit the same CurrentDemandRes announces
    (+ EVSECurrentRegulationTolerance)."""
    v2g.start(DC)
    dc_power.check_current_within_the_chargers_own_limit(v2g)


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
