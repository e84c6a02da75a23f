"""Control pilot with high-level communication, vehicle under test (ISO 15118-2/-3): when the vehicle closes S2
in an AC session, and the pilot while it pauses a session.

Precondition on real rigs: a CCS vehicle, plugged in, wanting energy; the pause test needs the harness to command
the vehicle (skipped with `needs dut-control` otherwise).
"""

from __future__ import annotations

import pytest

from harness.catalogue import T_reaction
from stack.timers import SpecTimer

pytestmark = [pytest.mark.dut_role("pev"), pytest.mark.needs("cp-measurement")]  # they read the vehicle's pilot

T_EV_B_after_stop = SpecTimer("T_EV_B_after_stop", 0.25,
                              "ISO 15118-2 [V2G2-848]: back to B within 250 ms when stopping (EVerest's constant)")
T_EV_C_after_PowerDelivery = SpecTimer("T_EV_C_after_PowerDelivery", 0.25,
                                       "ISO 15118-2 [V2G2-847]: C/D within 250 ms of the first PowerDeliveryReq(Start)")


@pytest.mark.requirement("V2G2-847")
@pytest.mark.fails_with("pev-no-state-c")
def test_vehicle_closes_S2_with_power_delivery_start(link):
    """In an AC session the vehicle switches the pilot to C or D within 250 ms of its first PowerDeliveryReq(Start)."""
    link.start("iso2-ac", slac=None)
    start = link.expect(lambda r: r.layer == "exi" and r.name == "PowerDeliveryReq" and r.dir == "from_dut"
                        and link.field(r, "ChargeProgress") == "Start", what="the vehicle's PowerDeliveryReq(Start)")
    link.hold(T_EV_C_after_PowerDelivery, "the vehicle closes S2")
    after = link.index(start)
    states = [(r.body or {}).get("state") for r in link.pilot_states(after + 1)
              if r.t - start.t <= T_EV_C_after_PowerDelivery.seconds + 1e-9]
    closed = link.pilot_at(start) in ("C", "D") or any(s in ("C", "D") for s in states)
    link.check(closed, f"pilot within {T_EV_C_after_PowerDelivery} of PowerDeliveryReq(Start): "
                       f"{link.pilot_at(start)} then {states or 'no change'} (expected C or D)", mark=start)


@pytest.mark.requirement("V2G2-848")
@pytest.mark.fails_with("pev-keeps-s2-closed")
def test_vehicle_opens_S2_when_it_stops_charging(link):
    """When the vehicle stops charging it switches the pilot from C/D back to B within 250 ms of the charger's
    PowerDeliveryRes(Stop)."""
    link.start("iso2-dc", slac=None)
    stop = link.expect(lambda r: r.layer == "exi" and r.name == "PowerDeliveryReq" and r.dir == "from_dut"
                       and link.field(r, "ChargeProgress") == "Stop", what="the vehicle's PowerDeliveryReq(Stop)")
    link.check(link.pilot_at(stop) in ("C", "D"), f"the vehicle charged in state C/D (pilot {link.pilot_at(stop)})",
               mark=stop)
    answer = link.expect_response("PowerDelivery", nth=len(link.messages("PowerDeliveryReq", sender="dut")))
    link.hold(T_EV_B_after_stop, "the vehicle opens S2")
    states = [(r.body or {}).get("state") for r in link.pilot_states(link.index(answer))
              if r.t - answer.t <= T_EV_B_after_stop.seconds + 1e-9]
    opened = link.pilot_at(answer) == "B" or "B" in states
    link.check(opened, f"pilot within {T_EV_B_after_stop} of PowerDeliveryRes(Stop): {link.pilot_at(answer)} then "
                       f"{states or 'no change'} (expected B)", mark=answer)


@pytest.mark.requirement("V2G3-M07-19")
@pytest.mark.fails_with("pev-pause-stays-in-c")
def test_vehicle_pauses_the_session_in_state_B(link):
    """When the vehicle pauses an HLC session it switches the pilot to state B (and leaves it there)."""
    link.start("iso2-dc", slac=None)
    link.expect("CurrentDemandReq", nth=3)
    link.check(link.pilot_at(len(link.timeline)) in ("C", "D"), "the vehicle charges in state C/D")
    link.dut_command("pause")
    stop = link.expect(lambda r: r.layer == "exi" and r.name == "SessionStopReq" and r.dir == "from_dut",
                       what="the vehicle's SessionStopReq(Pause)")
    link.check(link.field(stop, "ChargingSession") == "Pause",
               f"SessionStopReq ChargingSession {link.field(stop, 'ChargingSession')} (expected Pause)", mark=stop)
    link.hold(T_reaction, "the paused vehicle's pilot")
    last = link.pilot_states(link.started_at)[-1]
    state = (last.body or {}).get("state")
    link.check(state == "B", f"pilot {T_reaction} after SessionStopReq(Pause): state {state} (expected B)",
               mark=last if link.index(last) > link.index(stop) else stop)
