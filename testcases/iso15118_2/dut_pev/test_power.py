"""ISO 15118-2, car under test: what the car asks for in PreCharge (it waits for its target voltage before
PowerDelivery(Start), at a small pre-charge current) and in the DC charge loop (targets within the charger's and
its own limits)."""

from __future__ import annotations

import math

import pytest

from ..support import DC, answered

pytestmark = pytest.mark.dut_role("pev")

PRECHARGE_WINDOW_V = 20.0  # ccs-hil working value (CCSHIL-ISO2-EV-PC-01)
PRECHARGE_MAX_A = 2.0
SLOW_RAMP = {"power": {"voltage_ramp": 100.0}}  # our charger needs about 4 s to pre-charge to ~400 V
LIMITED = {"power": {"max_current": 50.0}}  # below the car's own maximum current


@pytest.mark.requirement("CCSHIL-ISO2-EV-PC-01")
@pytest.mark.fails_with("pev-precharge-tolerance-ignored")
def test_power_delivery_starts_only_at_the_target_voltage(v2g):
    """The car sends PowerDeliveryReq(Start) only after a PreChargeRes whose EVSEPresentVoltage is within 20 V of the
    car's EVTargetVoltage (our charger ramps slowly)."""
    v2g.start(DC, tester=SLOW_RAMP)
    start = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut",
                       what="the car's PowerDeliveryReq(Start)")
    before = [e for e in answered(v2g, "PreCharge") if v2g.index(e.response) < v2g.index(start)]
    v2g.check(before, "PowerDeliveryReq without any PreCharge exchange before it", mark=start)
    last = before[-1]
    target, present = v2g.physical(last.request, "EVTargetVoltage"), v2g.physical(last.response, "EVSEPresentVoltage")
    v2g.check(abs(present - target) <= PRECHARGE_WINDOW_V, f"PowerDelivery(Start) after a PreChargeRes of {present:g} V "
              f"for a target of {target:g} V", mark=start)


@pytest.mark.requirement("CCSHIL-ISO2-EV-PC-02")
@pytest.mark.fails_with("pev-precharge-current-high")
def test_precharge_current_is_small(v2g):
    """The car's EVTargetCurrent during PreCharge is at most 2 A."""
    v2g.start(DC)
    v2g.run_to_end()
    requests = v2g.messages("PreChargeReq", sender="dut")
    v2g.check(requests, f"no PreChargeReq (the session ended: {v2g.tester_end_reason()})")
    for request in requests:
        current = v2g.physical(request, "EVTargetCurrent")
        v2g.check(current <= PRECHARGE_MAX_A, f"PreChargeReq EVTargetCurrent {current:g} A", mark=request)


def evse_current_limit(v2g, before) -> float:
    """The EVSEMaximumCurrentLimit our charger announced last before `before`."""
    limit = math.nan
    for record in v2g.messages(sender="tester"):
        if v2g.index(record) >= v2g.index(before):
            break
        value = v2g.physical(record, "EVSEMaximumCurrentLimit")
        value = value if not math.isnan(value) else v2g.physical(record, "DC_EVSEChargeParameter.EVSEMaximumCurrentLimit")
        if not math.isnan(value):
            limit = value
    return limit


@pytest.mark.requirement("CCSHIL-ISO2-EV-CD-01")
@pytest.mark.fails_with("pev-target-over-evse-limit")
def test_target_current_stays_within_the_chargers_limit(v2g):
    """The car's EVTargetCurrent never exceeds the EVSEMaximumCurrentLimit our charger announced last
    (ChargeParameterDiscoveryRes, then each CurrentDemandRes); here 50 A."""
    v2g.start(DC, tester=LIMITED)
    v2g.run_to_end()
    requests = v2g.messages("CurrentDemandReq", sender="dut")
    v2g.check(requests, f"no CurrentDemandReq (the session ended: {v2g.tester_end_reason()})")
    for request in requests:
        limit, target = evse_current_limit(v2g, request), v2g.physical(request, "EVTargetCurrent")
        v2g.check(math.isnan(limit) or target <= limit, f"EVTargetCurrent {target:g} A above our "
                  f"EVSEMaximumCurrentLimit {limit:g} A", mark=request)


@pytest.mark.requirement("CCSHIL-ISO2-EV-CD-02")
@pytest.mark.fails_with("pev-target-over-own-max-voltage")
def test_target_voltage_stays_within_both_maximums(v2g):
    """The car's EVTargetVoltage never exceeds its own EVMaximumVoltageLimit nor our EVSEMaximumVoltageLimit."""
    v2g.start(DC)
    v2g.run_to_end()
    parameters = v2g.messages("ChargeParameterDiscoveryReq", sender="dut")
    offers = v2g.messages("ChargeParameterDiscoveryRes", sender="tester")
    v2g.check(parameters and offers, "no ChargeParameterDiscovery exchange")
    own = v2g.physical(parameters[0], "DC_EVChargeParameter.EVMaximumVoltageLimit")
    ours = v2g.physical(offers[-1], "DC_EVSEChargeParameter.EVSEMaximumVoltageLimit")
    requests = v2g.messages("CurrentDemandReq", sender="dut")
    v2g.check(requests, f"no CurrentDemandReq (the session ended: {v2g.tester_end_reason()})")
    for request in requests:
        target = v2g.physical(request, "EVTargetVoltage")
        own_now = min(own, v2g.physical(request, "EVMaximumVoltageLimit")) if not math.isnan(
            v2g.physical(request, "EVMaximumVoltageLimit")) else own
        v2g.check(target <= own_now and target <= ours, f"EVTargetVoltage {target:g} V: the car's maximum "
                  f"{own_now:g} V, ours {ours:g} V", mark=request)
