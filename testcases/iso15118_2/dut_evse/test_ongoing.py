"""ISO 15118-2, charger under test: the ↻ loops the charger drives with EVSEProcessing — EIM Authorization
(Ongoing_WaitingForCustomerInteraction until the customer is identified [V2G2-854]) and CableCheck (finished in
time, and only once the car has closed S2)."""

from __future__ import annotations

import pytest

from stack.sessions.iso15118_2 import V2G_EVCC_CableCheck_Timeout, V2G_EVCC_Ongoing_Timeout

from ..support import AC, DC

pytestmark = pytest.mark.dut_role("evse")

AUTHORIZATION_TIME_S = 3.0  # the simulated charger's customer takes this long


@pytest.mark.requirement("V2G2-854")
@pytest.mark.fails_with("evse-eim-ongoing-without-customer-interaction")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_eim_authorization_waits_for_the_customer(v2g, protocol):
    """Until the external identification is done, AuthorizationRes says
    EVSEProcessing=Ongoing_WaitingForCustomerInteraction; then Finished, within V2G_EVCC_Ongoing_Timeout."""
    v2g.start(protocol, dut={"authorization_time": AUTHORIZATION_TIME_S})
    first = v2g.expect("AuthorizationReq")
    done = v2g.expect(lambda r: r.name == "AuthorizationRes" and v2g.field(r, "EVSEProcessing") == "Finished",
                      V2G_EVCC_Ongoing_Timeout, what="AuthorizationRes with EVSEProcessing=Finished")
    waiting = [r for r in v2g.messages("AuthorizationRes", sender="dut") if r is not done
               and v2g.index(r) < v2g.index(done)]
    v2g.check(waiting, "the charger never said Ongoing although the customer took "
                       f"{AUTHORIZATION_TIME_S:g} s", mark=done)
    for response in waiting:
        processing = v2g.field(response, "EVSEProcessing")
        v2g.check(processing == "Ongoing_WaitingForCustomerInteraction",
                  f"AuthorizationRes EVSEProcessing={processing} while EIM waits for the customer", mark=response)
    v2g.check(done.t - first.t <= V2G_EVCC_Ongoing_Timeout.seconds, "Authorization took longer than "
              f"{V2G_EVCC_Ongoing_Timeout}", mark=done)


@pytest.mark.requirement("CCSHIL-ISO2-CC-01")
@pytest.mark.fails_with("evse-cable-check-forever")
def test_cable_check_finishes_in_time(v2g):
    """The charger finishes CableCheck (EVSEProcessing=Finished, EVSEIsolationStatus Valid or Warning) within
    V2G_EVCC_CableCheck_Timeout of the car's first CableCheckReq."""
    v2g.start(DC)
    first = v2g.expect("CableCheckReq")
    done = v2g.expect(lambda r: r.name == "CableCheckRes" and v2g.field(r, "EVSEProcessing") == "Finished",
                      V2G_EVCC_CableCheck_Timeout, after=v2g.index(first),
                      what="CableCheckRes with EVSEProcessing=Finished")
    isolation = v2g.field(done, "DC_EVSEStatus.EVSEIsolationStatus")
    v2g.check(isolation in ("Valid", "Warning"), f"CableCheck finished with EVSEIsolationStatus {isolation}",
              mark=done)
    v2g.check(v2g.code(done) == "OK", f"CableCheckRes ResponseCode {v2g.code(done)}", mark=done)


@pytest.mark.requirement("CCSHIL-ISO2-CC-02")
@pytest.mark.needs("cp-load")
@pytest.mark.fails_with("evse-ignores-pilot")
def test_cable_check_waits_for_state_c(v2g):
    """While the car keeps the pilot in state B (S2 open), the charger does not finish CableCheck: the insulation
    test needs the car's contactors closed."""
    v2g.start(DC, pilot_max="B")
    v2g.run_to_end()
    checks = v2g.messages("CableCheckRes", sender="dut")
    v2g.check(checks, "no CableCheckRes")
    for response in checks:
        pilot = v2g.pilot_at(response)
        finished = v2g.field(response, "EVSEProcessing") == "Finished" and v2g.code(response) == "OK"
        v2g.check(not (finished and pilot in ("A", "B")),
                  f"CableCheckRes EVSEProcessing=Finished while the pilot is in {pilot}", mark=response)
