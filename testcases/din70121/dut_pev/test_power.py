"""DIN SPEC 70121, car under test: what the car asks for — PreCharge (current, when it ends) and the charge loop
(targets within its own and the charger's limits)."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.dut_role("pev")

PRECHARGE_WINDOW_V = 20.0  # ccs-hil working value (CCSHIL-DIN-EV-PC-01)
PRECHARGE_MAX_CURRENT_A = 2.0  # CCSHIL-DIN-EV-PC-02
SLOW_CHARGER = {"power": {"voltage_ramp": 100.0}}  # PreCharge takes a few seconds: several PreCharge exchanges


@pytest.mark.requirement("CCSHIL-DIN-EV-PC-01")
@pytest.mark.fails_with("pev-precharge-tolerance-ignored")
def test_car_starts_power_delivery_only_once_precharged(v2g):
    """The car sends PowerDeliveryReq(ReadyToChargeState=true) only after a PreChargeRes whose EVSEPresentVoltage is
    within 20 V of its EVTargetVoltage."""
    v2g.start("din", tester=SLOW_CHARGER)
    start = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and v2g.field(r, "ReadyToChargeState") is True,
                       what="the car asks for power")
    last = [e for e in v2g.exchanges("PreCharge") if e.response is not None and e.index < v2g.index(start)]
    v2g.check(last, "PowerDeliveryReq without PreCharge", mark=start)
    target = v2g.physical(last[-1].request, "EVTargetVoltage")
    present = v2g.physical(last[-1].response, "EVSEPresentVoltage")
    v2g.check(abs(present - target) <= PRECHARGE_WINDOW_V,
              f"PowerDeliveryReq after PreChargeRes at {present:g} V for a target of {target:g} V", mark=start)


@pytest.mark.requirement("CCSHIL-DIN-EV-PC-02")
@pytest.mark.fails_with("pev-precharge-current-high")
def test_car_asks_for_at_most_2_A_during_precharge(v2g):
    """The car's EVTargetCurrent in every PreChargeReq is at most 2 A."""
    v2g.start("din", tester=SLOW_CHARGER)
    v2g.expect("PowerDeliveryReq")
    requests = v2g.messages("PreChargeReq", sender="dut")
    v2g.check(requests, "no PreChargeReq")
    for request in requests:
        current = v2g.physical(request, "EVTargetCurrent")
        v2g.check(current <= PRECHARGE_MAX_CURRENT_A, f"PreChargeReq asks for {current:g} A", mark=request)


@pytest.mark.requirement("CCSHIL-DIN-EV-CD-01")
@pytest.mark.fails_with("pev-target-over-evse-limit")
def test_car_target_current_stays_within_the_chargers_limit(v2g):
    """The car's EVTargetCurrent never exceeds the EVSEMaximumCurrentLimit our charger announced (100 A here)."""
    v2g.start("din", tester={"power": {"max_current": 100.0}})
    v2g.run_to_end()
    offer = v2g.messages("ChargeParameterDiscoveryRes", sender="tester")[-1]
    limit = v2g.physical(offer, "DC_EVSEChargeParameter.EVSEMaximumCurrentLimit")
    loop = v2g.exchanges("CurrentDemand")
    v2g.check(loop, "no CurrentDemand exchange")
    for exchange in loop:
        target = v2g.physical(exchange.request, "EVTargetCurrent")
        v2g.check(target <= limit + 1e-6, f"EVTargetCurrent {target:g} A above EVSEMaximumCurrentLimit {limit:g} A",
                  mark=exchange.index)
        if exchange.response is not None:
            announced = v2g.physical(exchange.response, "EVSEMaximumCurrentLimit")
            limit = limit if math.isnan(announced) else announced


@pytest.mark.requirement("CCSHIL-DIN-EV-CD-02")
@pytest.mark.fails_with("pev-target-over-own-max-voltage")
def test_car_target_voltage_stays_within_both_maximums(v2g):
    """The car's EVTargetVoltage never exceeds its own EVMaximumVoltageLimit nor the charger's
    EVSEMaximumVoltageLimit."""
    v2g.start("din")
    v2g.run_to_end()
    own = v2g.physical(v2g.messages("ChargeParameterDiscoveryReq", sender="dut")[0],
                       "DC_EVChargeParameter.EVMaximumVoltageLimit")
    charger = v2g.physical(v2g.messages("ChargeParameterDiscoveryRes", sender="tester")[-1],
                           "DC_EVSEChargeParameter.EVSEMaximumVoltageLimit")
    requests = v2g.messages("CurrentDemandReq", sender="dut")
    v2g.check(requests, "no CurrentDemandReq")
    for request in requests:
        target = v2g.physical(request, "EVTargetVoltage")
        v2g.check(target <= own and target <= charger,
                  f"EVTargetVoltage {target:g} V (own maximum {own:g} V, charger's {charger:g} V)", mark=request)
