"""DIN SPEC 70121, charger under test: the car's normal stop (power off, voltage down for welding detection), the
charger's own stop (EVSENotification=StopCharging) and its emergency shutdown."""

from __future__ import annotations

import pytest

from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("evse")

WELDING_THRESHOLD_V = 60.0  # ccs-hil working value (CCSHIL-DIN-STOP-01): below the DC touch-safe 60 V
T_discharge = SpecTimer("T_discharge", 5.0, "ccs-hil working value: time for the output to fall below 60 V after "
                        "PowerDeliveryReq(ReadyToChargeState=false) (DIN has no public bound)")
T_notification = SpecTimer("T_notification", 1.0, "ccs-hil working value: NotificationMaxDelay 0 plus a few 100 ms "
                           "loop cycles for the charger to say why it stops")
LONG_CHARGE = {"charge_loops": None, "charge_time": 5.0}


@pytest.mark.requirement("CCSHIL-DIN-STOP-01")
@pytest.mark.fails_with("evse-welding-voltage-stuck")
def test_output_falls_after_the_car_stops(v2g):
    """After PowerDeliveryReq(ReadyToChargeState=false) the charger answers OK and its output voltage, as
    WeldingDetectionRes reports it, falls below 60 V within T_discharge."""
    v2g.start("din", tester=LONG_CHARGE)
    v2g.expect("CurrentDemandRes", nth=5)
    v2g.command("stop_charging")
    stop = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and v2g.field(r, "ReadyToChargeState") is False,
                      what="our car asks to stop")
    v2g.expect_answer(stop, code="OK")
    low = v2g.run_until(lambda r: r.name == "WeldingDetectionRes" and
                        v2g.physical(r, "EVSEPresentVoltage") < WELDING_THRESHOLD_V, T_discharge, after=v2g.index(stop))
    if low is None:
        reported = [f"{v2g.physical(r, 'EVSEPresentVoltage'):g}" for r in v2g.messages("WeldingDetectionRes",
                                                                                        sender="dut")]
        v2g.fail(f"WeldingDetectionRes voltages {', '.join(reported) or '(none)'} V: not below "
                 f"{WELDING_THRESHOLD_V:g} V within {T_discharge}", mark=stop)
    v2g.run_to_end()
    v2g.check(v2g.messages("SessionStopRes", sender="dut"), "the session did not end with SessionStopRes")


@pytest.mark.requirement("CCSHIL-DIN-STOP-02")
@pytest.mark.fails_with("evse-hides-stop-charging")
def test_charger_announces_its_own_stop(v2g):
    """When the charger is told to stop (its operator) it says EVSENotification=StopCharging in the charge loop
    within T_notification, and the session then ends normally."""
    v2g.start("din", tester=LONG_CHARGE)
    v2g.expect("CurrentDemandRes", nth=3)
    v2g.dut_command("stop_charging")
    mark = len(v2g.timeline)
    told = v2g.run_until(lambda r: r.layer == "exi" and r.dir == "from_dut" and (
        v2g.field(r, "DC_EVSEStatus.EVSENotification") == "StopCharging"
        or v2g.field(r, "DC_EVSEStatus.EVSEStatusCode") == "EVSE_Shutdown"), T_notification, after=mark)
    v2g.check(told is not None, f"no EVSENotification=StopCharging within {T_notification} of the stop", mark=mark)
    v2g.run_to_end()
    v2g.check(v2g.messages("SessionStopRes", sender="dut"), "the session did not end with SessionStopRes")


@pytest.mark.requirement("CCSHIL-DIN-STOP-03")
@pytest.mark.fails_with("evse-hides-emergency")
def test_charger_reports_an_emergency_shutdown(v2g):
    """After an emergency shutdown the charger's next responses say EVSEStatusCode=EVSE_EmergencyShutdown (within
    T_notification) and its CurrentDemandRes reports no current."""
    v2g.start("din", tester=LONG_CHARGE)
    v2g.expect("CurrentDemandRes", nth=3)
    v2g.dut_command("emergency_stop")
    mark = len(v2g.timeline)
    told = v2g.run_until(lambda r: r.layer == "exi" and r.dir == "from_dut" and
                         v2g.field(r, "DC_EVSEStatus.EVSEStatusCode") == "EVSE_EmergencyShutdown", T_notification,
                         after=mark)
    v2g.check(told is not None, f"no EVSE_EmergencyShutdown within {T_notification} of the emergency stop", mark=mark)
    v2g.run_to_end()
    for response in v2g.messages("CurrentDemandRes", sender="dut", after=mark):
        current = v2g.physical(response, "EVSEPresentCurrent")
        v2g.check(current <= 1.0, f"CurrentDemandRes reports {current:g} A after the emergency shutdown", mark=response)
