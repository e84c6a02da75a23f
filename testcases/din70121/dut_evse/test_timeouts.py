"""DIN SPEC 70121, charger under test: the charger's own timer (V2G_SECC_Sequence_Timeout) and the loops it must
finish within the car's loop timers (DIN 70121 §9.6.5.5 Table 77)."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault, T_reaction
from stack.roles.evse import V2G_SECC_CommunicationSetup_Performance_Time
from stack.sessions.din70121 import V2G_EVCC_CableCheck_Timeout, V2G_SECC_Sequence_Timeout
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("evse")


@pytest.mark.requirement("V2G-DC-432")
@pytest.mark.fails_with("evse-no-sequence-timeout")
@pytest.mark.parametrize(("silent_at", "nth"), [
    pytest.param("SessionSetupReq", 1, id="after-handshake"),
    pytest.param("ServiceDiscoveryReq", 1, id="after-session-setup"),
    pytest.param("ContractAuthenticationReq", 1, id="after-payment-selection"),
    pytest.param("CableCheckReq", 1, id="after-charge-parameters"),
    pytest.param("PowerDeliveryReq", 1, id="after-precharge"),
    pytest.param("CurrentDemandReq", 3, id="in-the-charge-loop"),
    pytest.param("SessionStopReq", 1, id="after-welding-detection"),
])
def test_charger_gives_up_a_silent_car_after_the_sequence_timeout(v2g, silent_at, nth):
    """When the car sends no next request, the charger closes the TCP connection when V2G_SECC_Sequence_Timeout
    (60 s) after its last response runs out."""
    v2g.start("din", faults=[Fault(silent_at, "silence", nth=nth)])
    v2g.expect(lambda r: r.layer == "state" and r.name == "fault" and r.src == v2g.tester_node.name,
               what=f"our car falls silent instead of sending {silent_at}")
    last = v2g.messages(sender="dut")[-1]
    if silent_at == "SessionSetupReq" and v2g.slac:
        charger_leaves_the_link_or_closes(v2g, last)
    else:
        v2g.assert_dut_closes(last, V2G_SECC_Sequence_Timeout)


def charger_leaves_the_link_or_closes(v2g, last) -> None:
    """On a SLAC link a car that never sends SessionSetupReq also trips the data-link supervision: no V2G session
    within V2G_SECC_CommunicationSetup_Performance_Time (18 s) is a D-LINK_ERROR [V2G2-723], and the charger leaves
    the network (pilot off 5 %: X1, then E/F) before the 60 s run out. Its TCP close then has no link to travel
    on, so either end of the session counts: the connection closed, or the pilot off 5 % PWM."""
    start = v2g.index(last)
    bound = SpecTimer(f"{V2G_SECC_Sequence_Timeout.name}+{T_reaction.name}",
                      V2G_SECC_Sequence_Timeout.seconds + T_reaction.seconds, V2G_SECC_Sequence_Timeout.source)

    def left_link(record) -> bool:
        body = record.body or {}
        return record.layer == "cp" and record.src == "cp" and (body.get("duty") is None
                                                                 or body.get("state") in ("E", "F"))

    ended = v2g.run_until(lambda r: left_link(r) or (r.layer == "tcp" and v2g.closed_by_dut(start) is r), bound,
                          after=start, stop_at_end=False,
                          what=f"the charger closes the connection or leaves the link "
                               f"({V2G_SECC_CommunicationSetup_Performance_Time})")
    if ended is None:
        v2g.fail(f"the DUT neither closed the TCP connection nor left the data link within {bound}", mark=start)
    assert ended is not None
    v2g.check(ended.t - last.t <= bound.seconds + 1e-9,
              f"the session ended {ended.t - last.t:.3f} s after the last response, allowed <= {bound}", mark=ended)


@pytest.mark.requirement("V2G-DC-418")
@pytest.mark.fails_with("evse-cable-check-forever", "evse-isolation-fault")
def test_insulation_test_finishes_valid_within_the_cable_check_timeout(v2g):
    """The charger answers CableCheckReq with EVSEProcessing=Ongoing while its insulation test runs and finishes it
    (Finished, OK, isolation Valid or Warning) before V2G_EVCC_CableCheck_Timeout (40 s) runs out."""
    v2g.start("din")
    first = v2g.expect("CableCheckReq")
    done = v2g.expect(lambda r: r.name == "CableCheckRes" and v2g.field(r, "EVSEProcessing") == "Finished",
                      V2G_EVCC_CableCheck_Timeout, after=v2g.index(first), what="CableCheckRes says Finished")
    v2g.check(v2g.code(done) == "OK", f"CableCheckRes ResponseCode {v2g.code(done)}", mark=done)
    isolation = v2g.field(done, "DC_EVSEStatus.EVSEIsolationStatus")
    v2g.check(isolation in ("Valid", "Warning"), f"insulation test result {isolation}", mark=done)
    for ongoing in v2g.messages("CableCheckRes", sender="dut", after=first):
        if ongoing is done:
            break
        v2g.check(v2g.field(ongoing, "EVSEProcessing") == "Ongoing" and v2g.code(ongoing) == "OK",
                  f"CableCheckRes {v2g.code(ongoing)} {v2g.field(ongoing, 'EVSEProcessing')} during the test",
                  mark=ongoing)
