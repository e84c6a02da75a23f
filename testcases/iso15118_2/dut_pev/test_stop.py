"""ISO 15118-2, car under test: ending the charge. The car stops when the charger asks (EVSENotification=
StopCharging [V2G2-679]) or shuts down in an emergency, ends its own charge loop with PowerDelivery(Stop)
[V2G2-527], bounds WeldingDetection, and moves the pilot to C/D in time for power delivery [V2G2-847]."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.timers import SpecTimer

from ..support import AC, DC, next_request

pytestmark = pytest.mark.dut_role("pev")

LOOP = {DC: "CurrentDemand", AC: "ChargingStatus"}
T_ev_stop = SpecTimer("T_ev_stop", 2.0, "ccs-hil working value: a car reacts to StopCharging / an emergency "
                      "shutdown within a few loop cycles (NotificationMaxDelay is 0 here)")
T_welding = SpecTimer("T_welding", 20.0, "ccs-hil working value: how long a car may keep asking WeldingDetection "
                      "while the voltage stays high")
T_C_after_start = SpecTimer("T_C_after_start", 0.25, "ISO 15118-2 [V2G2-847]: C or D within 250 ms of the first "
                            "PowerDeliveryReq(Start)")


def status_of(v2g, record) -> dict:
    return v2g.field(record, "DC_EVSEStatus") or v2g.field(record, "AC_EVSEStatus") or {}


def stop_after(v2g, told, protocol: str):
    """The car's PowerDeliveryReq(Stop) within T_ev_stop of our response `told`, with only loop requests before."""
    stop = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut", T_ev_stop,
                      after=v2g.index(told), what="the car's PowerDeliveryReq after we asked it to stop")
    v2g.check(v2g.field(stop, "ChargeProgress") == "Stop",
              f"the car's PowerDeliveryReq says ChargeProgress={v2g.field(stop, 'ChargeProgress')}", mark=stop)
    between = [r for r in v2g.messages(sender="dut", after=told) if r.name.endswith("Req")
               and v2g.index(r) < v2g.index(stop)]
    for request in between:
        v2g.check(request.name == f"{LOOP[protocol]}Req", f"the car sent {request.name} before stopping",
                  mark=request)
    return stop


@pytest.mark.requirement("V2G2-679")
@pytest.mark.fails_with("pev-ignores-evse-stop")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_car_stops_when_the_charger_asks(v2g, protocol):
    """When our charger says EVSENotification=StopCharging in the charge loop, the car ends the loop with
    PowerDeliveryReq(ChargeProgress=Stop) within T_ev_stop."""
    v2g.start(protocol)
    v2g.expect(f"{LOOP[protocol]}Res", nth=3)
    v2g.command("stop_charging")
    told = v2g.expect(lambda r: r.name == f"{LOOP[protocol]}Res" and r.dir == "to_dut"
                      and status_of(v2g, r).get("EVSENotification") == "StopCharging",
                      what="our charge-loop response with StopCharging")
    stop_after(v2g, told, protocol)


@pytest.mark.requirement("CCSHIL-ISO2-EV-STOP-01")
@pytest.mark.fails_with("pev-ignores-evse-stop")
def test_the_car_stops_on_an_emergency_shutdown(v2g):
    """When our charger reports EVSEStatusCode=EVSE_EmergencyShutdown in the DC charge loop, the car ends the loop
    with PowerDeliveryReq(ChargeProgress=Stop) within T_ev_stop."""
    v2g.start(DC)
    v2g.expect("CurrentDemandRes", nth=3)
    v2g.command("emergency_stop")
    told = v2g.expect(lambda r: r.name == "CurrentDemandRes" and r.dir == "to_dut"
                      and status_of(v2g, r).get("EVSEStatusCode") == "EVSE_EmergencyShutdown",
                      what="our CurrentDemandRes with EVSE_EmergencyShutdown")
    stop_after(v2g, told, DC)


@pytest.mark.requirement("V2G2-527")
@pytest.mark.fails_with("pev-stops-without-power-delivery")
def test_the_car_ends_its_charge_loop_with_power_delivery_stop(v2g):
    """When the car decides to stop charging, the request after its last CurrentDemandRes is
    PowerDeliveryReq(ChargeProgress=Stop)."""
    v2g.start(DC)
    v2g.run_to_end()
    loop = v2g.messages("CurrentDemandRes", sender="tester")
    v2g.check(loop, f"no CurrentDemand exchange (the session ended: {v2g.tester_end_reason()})")
    following = next_request(v2g, loop[-1])
    v2g.check(following.name == "PowerDeliveryReq" and v2g.field(following, "ChargeProgress") == "Stop",
              f"after its last CurrentDemandRes the car sent {following.name} "
              f"{v2g.field(following, 'ChargeProgress') or ''}".rstrip(), mark=following)


@pytest.mark.requirement("CCSHIL-ISO2-EV-WELD-01")
@pytest.mark.fails_with("pev-welding-forever")
def test_the_car_gives_up_welding_detection(v2g):
    """A car that keeps seeing 400 V in WeldingDetectionRes gives up and sends SessionStopReq within T_welding of its
    first WeldingDetectionReq."""
    stuck = Fault("WeldingDetectionRes", "set_field", {"EVSEPresentVoltage": {"Multiplier": 0, "Unit": "V",
                                                                             "Value": 400}}, times=None)
    v2g.start(DC, faults=[stuck])
    first = v2g.expect("WeldingDetectionReq")
    v2g.expect(lambda r: r.name == "SessionStopReq" and r.dir == "from_dut", T_welding, after=v2g.index(first),
               what="the car's SessionStopReq")


@pytest.mark.requirement("V2G2-847")
@pytest.mark.needs("cp-measurement")
@pytest.mark.fails_with("pev-no-state-c")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_car_is_in_state_c_for_power_delivery(v2g, protocol):
    """Within 250 ms after its first PowerDeliveryReq(ChargeProgress=Start) the car presents state C (or D)."""
    v2g.start(protocol)
    start = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut"
                       and v2g.field(r, "ChargeProgress") == "Start", what="the car's PowerDeliveryReq(Start)")
    v2g.hold(T_C_after_start, "the car's time to close S2")
    deadline = start.t + T_C_after_start.seconds
    state = None
    for record in v2g.pilot_states():
        if record.t <= deadline:
            state = (record.body or {}).get("state")
    v2g.check(state in ("C", "D"), f"the pilot is in {state} {T_C_after_start} after PowerDeliveryReq(Start)",
              mark=start)
