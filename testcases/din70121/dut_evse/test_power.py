"""DIN SPEC 70121, charger under test: PreCharge (voltage reached, in time, no overshoot) and the charge loop
(present current follows the EV's target; present current and voltage stay within both sides' limits). The checks
are shared with the ISO 15118-2 catalogue (harness.catalogue.dc_power)."""

from __future__ import annotations

import pytest

from harness.catalogue import dc_power
from stack.sessions.din70121 import V2G_EVCC_PreCharge_Timeout

pytestmark = pytest.mark.dut_role("evse")


@pytest.mark.requirement("CCSHIL-DIN-PC-01")
@pytest.mark.fails_with("evse-precharge-no-voltage")
def test_precharge_reaches_the_target_voltage_in_time(v2g):
    """During PreCharge the charger brings EVSEPresentVoltage within 20 V of the EV's EVTargetVoltage before
    V2G_EVCC_PreCharge_Timeout (7 s) runs out."""
    v2g.start("din")
    dc_power.check_precharge_reaches_the_target(v2g, V2G_EVCC_PreCharge_Timeout)


@pytest.mark.requirement("CCSHIL-DIN-PC-02")
@pytest.mark.fails_with("evse-precharge-overshoot")
def test_precharge_does_not_overshoot_the_target(v2g):
    """During PreCharge EVSEPresentVoltage never exceeds the EV's EVTargetVoltage by more than 20 V, nor its
    EVMaximumVoltageLimit."""
    v2g.start("din")
    dc_power.check_precharge_does_not_overshoot(v2g)


@pytest.mark.requirement("CCSHIL-DIN-CD-01")
@pytest.mark.fails_with("evse-current-not-tracking")
def test_present_current_follows_the_target(v2g):
    """From T_current_settle after PowerDelivery(Start) on, EVSEPresentCurrent stays within
    EVSECurrentRegulationTolerance (5 A when none is announced) of min(EVTargetCurrent, EVSEMaximumCurrentLimit)
    while the target is steady."""
    v2g.start("din", tester=dc_power.LONG_CHARGE)
    dc_power.check_current_follows_the_target(v2g)


@pytest.mark.requirement("CCSHIL-DIN-CD-02")
@pytest.mark.fails_with("evse-current-overshoot")
def test_present_current_stays_within_the_ev_limits(v2g):
    """EVSEPresentCurrent never exceeds the EV's EVMaximumCurrentLimit, nor its EVTargetCurrent by more than
    EVSECurrentRegulationTolerance + EVSEPeakCurrentRipple."""
    v2g.start("din")
    dc_power.check_current_within_the_ev_limits(v2g)


@pytest.mark.requirement("CCSHIL-DIN-CD-03")
@pytest.mark.fails_with("evse-voltage-over-ev-max")
def test_present_voltage_stays_within_the_ev_maximum(v2g):
    """EVSEPresentVoltage never exceeds the EV's EVMaximumVoltageLimit in the charge loop."""
    v2g.start("din")
    dc_power.check_voltage_within_the_ev_maximum(v2g)


@pytest.mark.requirement("CCSHIL-DIN-CD-04")
@pytest.mark.fails_with("evse-exceeds-own-current-limit")
def test_present_current_stays_within_the_chargers_own_limit(v2g):
    """EVSEPresentCurrent stays within the EVSEMaximumCurrentLimit the same CurrentDemandRes announces
    (+ EVSECurrentRegulationTolerance)."""
    v2g.start("din")
    dc_power.check_current_within_the_chargers_own_limit(v2g)
