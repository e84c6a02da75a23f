"""DIN SPEC 70121, car under test: stopping — on the charger's request (StopCharging, emergency shutdown), the
car's own end of charging, and a welding detection that never sees the voltage fall."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("pev")

T_ev_stop = SpecTimer("T_ev_stop", 2.0, "ccs-hil working value: NotificationMaxDelay 0 plus a few loop cycles for "
                      "the car to leave the charge loop (CCSHIL-DIN-EV-STOP-01)")
T_welding = SpecTimer("T_welding", 20.0, "ccs-hil working value: bound on a welding detection that never sees the "
                      "voltage fall (CCSHIL-DIN-EV-WELD-01)")
LONG_CHARGE = {"charge_loops": None, "charge_time": 30.0}  # our simulated car would charge on


def is_stop(v2g):
    return lambda r: r.name == "PowerDeliveryReq" and v2g.field(r, "ReadyToChargeState") is False


@pytest.mark.requirement("CCSHIL-DIN-EV-STOP-01")
@pytest.mark.fails_with("pev-ignores-evse-stop")
@pytest.mark.parametrize("command", ["stop_charging", "emergency_stop"])
def test_car_stops_when_the_charger_asks(v2g, command):
    """When the charger signals EVSENotification=StopCharging or EVSE_EmergencyShutdown in the charge loop, the car
    sends PowerDeliveryReq(ReadyToChargeState=false) within T_ev_stop."""
    v2g.start("din", sim_dut=LONG_CHARGE)
    v2g.expect("CurrentDemandReq", nth=3)
    v2g.command(command)
    told = v2g.expect(lambda r: r.name == "CurrentDemandRes" and r.dir == "to_dut" and (
        v2g.field(r, "DC_EVSEStatus.EVSENotification") == "StopCharging"
        or v2g.field(r, "DC_EVSEStatus.EVSEStatusCode") == "EVSE_EmergencyShutdown"), what="our charger asks to stop")
    stop = v2g.run_until(is_stop(v2g), T_ev_stop, after=v2g.index(told))
    v2g.check(stop is not None, f"no PowerDeliveryReq(ReadyToChargeState=false) within {T_ev_stop} of "
              f"{v2g.field(told, 'DC_EVSEStatus.EVSENotification')}/{v2g.field(told, 'DC_EVSEStatus.EVSEStatusCode')}",
              mark=told)


@pytest.mark.requirement("CCSHIL-DIN-EV-STOP-02", "V2G-DC-459")
@pytest.mark.fails_with("pev-current-demand-after-stop", "pev-power-delivery-after-welding")
def test_car_ends_charging_with_power_delivery_stop_and_session_stop(v2g):
    """When the car ends charging it leaves the charge loop with PowerDeliveryReq(ReadyToChargeState=false), then
    sends only WeldingDetectionReq (optional, repeated) and finally SessionStopReq."""
    v2g.start("din")
    stop = v2g.expect(is_stop(v2g), what="the car ends charging")
    v2g.run_to_end()
    after = [r.name for r in v2g.messages(sender="dut", after=stop)]
    v2g.check(after and after[-1] == "SessionStopReq" and set(after[:-1]) <= {"WeldingDetectionReq"},
              f"after PowerDeliveryReq(stop) the car sent {', '.join(after) or 'nothing'}", mark=stop)


@pytest.mark.requirement("CCSHIL-DIN-EV-WELD-01", "V2G-DC-469")
@pytest.mark.fails_with("pev-welding-forever")
def test_car_ends_a_welding_detection_that_never_sees_low_voltage(v2g):
    """A car whose WeldingDetectionReq keeps being answered with full voltage gives up and sends SessionStopReq
    within T_welding of its first WeldingDetectionReq."""
    stuck = Fault("WeldingDetectionRes", "set_field", {"EVSEPresentVoltage.Value": 400,
                                                       "EVSEPresentVoltage.Multiplier": 0}, times=None)
    v2g.start("din", faults=[stuck])
    first = v2g.expect("WeldingDetectionReq")
    v2g.expect("SessionStopReq", T_welding, after=v2g.index(first), what="the car gives up welding detection")
