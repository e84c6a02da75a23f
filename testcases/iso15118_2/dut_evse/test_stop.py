"""ISO 15118-2, charger under test: ending the charge. The charger asks the car to stop with
EVSENotification=StopCharging, reports an emergency shutdown and delivers nothing after it, and after the car's
PowerDelivery(Stop) switches its output off so that WeldingDetection sees the voltage fall."""

from __future__ import annotations

import pytest

from stack.timers import SpecTimer

from ..support import AC, DC, evse_status

pytestmark = pytest.mark.dut_role("evse")

LONG_CHARGE = {"charge_loops": None, "charge_time": 30.0}
T_notify = SpecTimer("T_notify", 1.0, "ccs-hil working value: from the operator's stop to the first charge-loop "
                     "response that tells the car (a few 100 ms loop cycles + T_reaction)")
WELDING_SAFE_V = 60.0  # ccs-hil working value: IEC 61851-23 touch-safe DC voltage
LOOP_RES = {DC: "CurrentDemandRes", AC: "ChargingStatusRes"}


def charging(v2g, protocol: str):
    v2g.start(protocol, tester=LONG_CHARGE)
    return v2g.expect(LOOP_RES[protocol], nth=3)


def case(protocol: str, fault: str):
    return pytest.param(protocol, id=protocol, marks=pytest.mark.fails_with(fault))


@pytest.mark.requirement("CCSHIL-ISO2-STOP-01")
@pytest.mark.parametrize("protocol", [case(DC, "evse-hides-stop-charging"), case(AC, "evse-hides-stop-charging-ac")])
def test_the_charger_asks_the_car_to_stop(v2g, protocol):
    """When the charger wants to stop (its operator pressed stop) it tells the car with EVSENotification=StopCharging
    in a charge-loop response within T_notify, and the session then ends normally with the car's
    PowerDelivery(Stop) and SessionStop."""
    charging(v2g, protocol)
    v2g.dut_command("stop_charging")
    pressed = len(v2g.timeline)
    told = v2g.expect(lambda r: r.name == LOOP_RES[protocol] and evse_status(v2g, r).get("EVSENotification") ==
                      "StopCharging", T_notify, after=pressed, what=f"{LOOP_RES[protocol]} with StopCharging")
    v2g.run_to_end()
    v2g.check(v2g.tester.result is not None and v2g.tester.result.ok,
              f"the session did not end normally: {v2g.tester_end_reason()}", mark=told)


@pytest.mark.requirement("CCSHIL-ISO2-STOP-02")
@pytest.mark.parametrize("protocol", [case(DC, "evse-hides-emergency"), case(AC, "evse-hides-stop-charging-ac")])
def test_an_emergency_shutdown_is_reported_and_stops_the_current(v2g, protocol):
    """After an emergency shutdown the charger's next charge-loop responses report it (DC: EVSEStatusCode
    EVSE_EmergencyShutdown and EVSEPresentCurrent 0 A; AC, which has no status code: EVSENotification=StopCharging)
    within T_notify."""
    charging(v2g, protocol)
    v2g.dut_command("emergency_stop")
    pressed = len(v2g.timeline)

    def reported(record) -> bool:
        status = evse_status(v2g, record)
        if protocol == DC:
            return record.name == "CurrentDemandRes" and status.get("EVSEStatusCode") == "EVSE_EmergencyShutdown"
        return record.name == "ChargingStatusRes" and status.get("EVSENotification") == "StopCharging"

    shown = v2g.expect(reported, T_notify, after=pressed, what="the emergency shutdown in a charge-loop response")
    if protocol == DC:
        for response in v2g.messages("CurrentDemandRes", sender="dut", after=shown):
            current = v2g.physical(response, "EVSEPresentCurrent")
            v2g.check(current <= 0.5, f"EVSEPresentCurrent {current:g} A after the emergency shutdown", mark=response)


@pytest.mark.requirement("CCSHIL-ISO2-STOP-03")
@pytest.mark.fails_with("evse-welding-voltage-stuck")
def test_after_power_delivery_stop_the_output_is_switched_off(v2g):
    """After the car's PowerDeliveryReq(Stop) the charger answers OK and switches its output off: EVSEPresentVoltage
    in WeldingDetectionRes falls below 60 V while the car repeats WeldingDetectionReq."""
    v2g.start(DC)
    v2g.run_to_end()
    stops = [r for r in v2g.messages("PowerDeliveryReq", sender="tester")
             if v2g.field(r, "ChargeProgress") == "Stop"]
    v2g.check(stops, f"our car never sent PowerDeliveryReq(Stop) (the session ended: {v2g.tester_end_reason()})")
    welding = v2g.messages("WeldingDetectionRes", sender="dut", after=stops[0])
    v2g.check(welding, "no WeldingDetectionRes after PowerDelivery(Stop)", mark=stops[0])
    lowest = min(v2g.physical(r, "EVSEPresentVoltage") for r in welding)
    v2g.check(lowest < WELDING_SAFE_V, f"EVSEPresentVoltage stayed at >= {lowest:g} V through {len(welding)} "
              f"WeldingDetectionRes", mark=welding[-1])
