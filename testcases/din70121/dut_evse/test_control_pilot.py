"""DIN SPEC 70121, charger under test: the session and the control pilot — no insulation test and no power while
the car's pilot is in state B [V2G-DC-547]."""

from __future__ import annotations

import pytest

from stack.sessions.din70121 import V2G_EVCC_CableCheck_Timeout

pytestmark = [pytest.mark.dut_role("evse"), pytest.mark.needs("cp-load")]


@pytest.mark.requirement("V2G-DC-547")
@pytest.mark.fails_with("evse-ignores-pilot")
def test_no_insulation_test_while_the_pilot_is_in_B(v2g):
    """While the car's pilot stays in state B the charger does not finish CableCheck (it answers Ongoing until the
    car's V2G_EVCC_CableCheck_Timeout runs out)."""
    v2g.start("din", pilot_max="B")
    first = v2g.expect("CableCheckReq")
    v2g.check(v2g.pilot_at(first) == "B", f"precondition: pilot in {v2g.pilot_at(first)}, not B", mark=first)
    finished = v2g.run_until(lambda r: r.name == "CableCheckRes" and v2g.field(r, "EVSEProcessing") == "Finished"
                             and v2g.code(r) == "OK", V2G_EVCC_CableCheck_Timeout, after=v2g.index(first))
    v2g.check(finished is None, "CableCheck finished OK with the pilot in state B", mark=finished)
    v2g.check(len(v2g.messages("CableCheckRes", sender="dut")) >= 2, "the charger stopped answering CableCheckReq")


@pytest.mark.requirement("V2G-DC-547")
@pytest.mark.fails_with("evse-ignores-pilot")
def test_no_power_delivery_while_the_pilot_is_in_B(v2g):
    """A PowerDeliveryReq(ReadyToChargeState=true) while the car's pilot is back in state B is not answered OK: the
    charger waits for C/D (V2G_SECC_CPState_Detection_Timeout) and refuses."""
    v2g.start("din")
    v2g.expect("PreChargeRes", nth=2)
    v2g.force_pilot("B")
    request = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and v2g.field(r, "ReadyToChargeState") is True,
                         what="our car asks for power with the pilot in B")
    v2g.check(v2g.pilot_at(request) == "B", f"precondition: pilot in {v2g.pilot_at(request)}", mark=request)
    v2g.run_to_end()
    answer = next((e.response for e in v2g.exchanges("PowerDelivery") if e.request is request), None)
    v2g.check(answer is None or v2g.code(answer) != "OK", "PowerDeliveryRes OK to a start with the pilot in state B",
              mark=answer)
