"""ISO 15118-2, car under test: renegotiation asked for by the charger. When our charger says
EVSENotification=ReNegotiation in the charge loop, the car sends PowerDeliveryReq(ChargeProgress=Renegotiate)
[V2G2-680], then ChargeParameterDiscoveryReq [V2G2-813], and charging goes on after a new
PowerDeliveryReq(Start)."""

from __future__ import annotations

import pytest

from stack.timers import SpecTimer

from ..support import AC, DC, next_request

pytestmark = pytest.mark.dut_role("pev")

LOOP = {DC: "CurrentDemand", AC: "ChargingStatus"}
T_ev_renegotiate = SpecTimer("T_ev_renegotiate", 2.0, "ccs-hil working value: a car acts on EVSENotification="
                             "ReNegotiation within a few loop cycles (NotificationMaxDelay is 0 here)")


def asked_to_renegotiate(v2g, protocol: str):
    v2g.start(protocol)
    v2g.expect(f"{LOOP[protocol]}Res", nth=3)
    v2g.command("renegotiate")
    return v2g.expect(lambda r: r.name == f"{LOOP[protocol]}Res" and r.dir == "to_dut" and (
        v2g.field(r, "DC_EVSEStatus.EVSENotification") == "ReNegotiation"
        or v2g.field(r, "AC_EVSEStatus.EVSENotification") == "ReNegotiation"),
        what="our charge-loop response with EVSENotification=ReNegotiation")


@pytest.mark.requirement("V2G2-680")
@pytest.mark.fails_with("pev-ignores-renegotiation")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_car_renegotiates_when_the_charger_asks(v2g, protocol):
    """After a charge-loop response with EVSENotification=ReNegotiation the car sends
    PowerDeliveryReq(ChargeProgress=Renegotiate) within T_ev_renegotiate (only loop requests before it)."""
    told = asked_to_renegotiate(v2g, protocol)
    request = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut", T_ev_renegotiate,
                         after=v2g.index(told), what="the car's PowerDeliveryReq after ReNegotiation")
    v2g.check(v2g.field(request, "ChargeProgress") == "Renegotiate",
              f"the car's PowerDeliveryReq says ChargeProgress={v2g.field(request, 'ChargeProgress')}", mark=request)


@pytest.mark.requirement("V2G2-813")
@pytest.mark.fails_with("pev-renegotiation-skips-charge-parameters")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_after_renegotiate_the_car_sends_new_charge_parameters(v2g, protocol):
    """After PowerDeliveryRes to ChargeProgress=Renegotiate the car's next request is ChargeParameterDiscoveryReq,
    and after the new offer it starts again with PowerDeliveryReq(Start) and goes on charging."""
    told = asked_to_renegotiate(v2g, protocol)
    request = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut"
                         and v2g.field(r, "ChargeProgress") == "Renegotiate", after=v2g.index(told),
                         what="the car's PowerDeliveryReq(Renegotiate)")
    response = v2g.expect(lambda r: r.name == "PowerDeliveryRes" and r.dir == "to_dut", after=v2g.index(request),
                          what="our PowerDeliveryRes(Renegotiate)")
    following = next_request(v2g, response)
    v2g.check(following.name == "ChargeParameterDiscoveryReq", f"after PowerDeliveryRes(Renegotiate) the car sent "
              f"{following.name}", mark=following)
    start = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut"
                       and v2g.field(r, "ChargeProgress") == "Start", after=v2g.index(following),
                       what="the car's new PowerDeliveryReq(Start)")
    v2g.expect(f"{LOOP[protocol]}Req", after=v2g.index(start), what="the charge loop after the renegotiation")
