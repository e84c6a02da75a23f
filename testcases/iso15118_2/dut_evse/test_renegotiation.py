"""ISO 15118-2, charger under test: renegotiation. From the charge loop the car may send
PowerDeliveryReq(ChargeProgress=Renegotiate) [V2G2-812], then ChargeParameterDiscoveryReq [V2G2-813] and
PowerDeliveryReq(Start) again; the charger that wants new parameters asks for it with
EVSENotification=ReNegotiation in charge-loop responses."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.timers import SpecTimer

from ..support import AC, DC, answer, evse_status

pytestmark = pytest.mark.dut_role("evse")

LONG_CHARGE = {"charge_loops": None, "charge_time": 30.0}
LOOP_RES = {DC: "CurrentDemandRes", AC: "ChargingStatusRes"}
T_notify = SpecTimer("T_notify", 1.0, "ccs-hil working value: from the operator's request to the first charge-loop "
                     "response that tells the car (a few 100 ms loop cycles + T_reaction)")


def renegotiating(v2g, protocol: str, faults=()):
    """Charge for three loops, then our car renegotiates; returns its PowerDeliveryReq(Renegotiate)."""
    v2g.start(protocol, tester=LONG_CHARGE, faults=list(faults))
    v2g.expect(LOOP_RES[protocol], nth=3)
    v2g.command("renegotiate")
    return v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "to_dut"
                      and v2g.field(r, "ChargeProgress") == "Renegotiate", what="our car's PowerDeliveryReq(Renegotiate)")


@pytest.mark.requirement("V2G2-812")
@pytest.mark.fails_with("evse-refuses-renegotiation")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_renegotiation_from_the_charge_loop_is_accepted(v2g, protocol):
    """PowerDeliveryReq(ChargeProgress=Renegotiate) sent from the charge loop is answered with OK."""
    request = renegotiating(v2g, protocol)
    answer(v2g, request, "OK")


@pytest.mark.requirement("V2G2-813")
@pytest.mark.fails_with("evse-refuses-renegotiated-parameters")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_after_renegotiate_new_charge_parameters_and_a_new_start_are_accepted(v2g, protocol):
    """After PowerDeliveryRes(Renegotiate) the charger answers ChargeParameterDiscoveryReq with OK and a schedule,
    then the new PowerDeliveryReq(Start) with OK, and the charge loop goes on."""
    request = renegotiating(v2g, protocol)
    answer(v2g, request, "OK")
    discovery = v2g.expect(lambda r: r.name == "ChargeParameterDiscoveryReq" and r.dir == "to_dut",
                           after=v2g.index(request), what="our car's ChargeParameterDiscoveryReq after Renegotiate")
    offer = answer(v2g, discovery, "OK")
    while v2g.field(offer, "EVSEProcessing") != "Finished":
        discovery = v2g.expect(lambda r: r.name == "ChargeParameterDiscoveryReq" and r.dir == "to_dut",
                               after=v2g.index(offer), what="our car's next ChargeParameterDiscoveryReq")
        offer = answer(v2g, discovery, "OK")
    v2g.check(v2g.field(offer, "SAScheduleList.SAScheduleTuple"), "the renegotiated offer has no SAScheduleTuple",
              mark=offer)
    start = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "to_dut"
                       and v2g.field(r, "ChargeProgress") == "Start", after=v2g.index(offer),
                       what="our car's new PowerDeliveryReq(Start)")
    answer(v2g, start, "OK")
    loop = v2g.expect(LOOP_RES[protocol].replace("Res", "Req"), after=v2g.index(start),
                      what="the charge loop after the renegotiation")
    answer(v2g, loop, "OK")


@pytest.mark.requirement("V2G2-538", "V2G2-813")
@pytest.mark.fails_with("evse-accepts-sequence-error")
def test_after_renegotiate_a_charge_loop_request_is_refused(v2g):
    """After PowerDeliveryRes(Renegotiate) the next request must be ChargeParameterDiscoveryReq: a CurrentDemandReq
    in its place is answered with FAILED_SequenceError."""
    renegotiating(v2g, DC, faults=[Fault("ChargeParameterDiscoveryReq", "out_of_sequence", "CurrentDemandReq",
                                         nth=2)])
    request = v2g.staged()
    answer(v2g, request, "FAILED_SequenceError")


@pytest.mark.requirement("CCSHIL-ISO2-RENEG-01")
@pytest.mark.fails_with("evse-hides-renegotiation")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_charger_asks_for_renegotiation_in_the_charge_loop(v2g, protocol):
    """When the charger wants new charge parameters it says EVSENotification=ReNegotiation in a charge-loop response
    within T_notify, and accepts the car's PowerDeliveryReq(Renegotiate) that follows."""
    v2g.start(protocol, tester=LONG_CHARGE)
    v2g.expect(LOOP_RES[protocol], nth=3)
    v2g.dut_command("renegotiate")
    asked = len(v2g.timeline)
    v2g.expect(lambda r: r.name == LOOP_RES[protocol] and evse_status(v2g, r).get("EVSENotification") ==
               "ReNegotiation", T_notify, after=asked, what=f"{LOOP_RES[protocol]} with EVSENotification=ReNegotiation")
    request = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "to_dut"
                         and v2g.field(r, "ChargeProgress") == "Renegotiate", after=asked,
                         what="our car's PowerDeliveryReq(Renegotiate)")
    answer(v2g, request, "OK")
