"""ISO 15118-2, charger under test: session ID handling and pause/resume. The charger assigns a fresh non-zero
SessionID to a new session [V2G2-756], keeps it in every response, refuses requests carrying another one
[V2G2-460], and joins a paused session again when the car presents its SessionID [V2G2-741]."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.sessions.fault_sets_iso2 import UNKNOWN_SESSION_ID
from stack.sessions.iso15118_2 import V2G_EVCC_CommunicationSetup_Timeout
from stack.timers import SpecTimer

from ..support import AC, DC, answer, first_response, wait_for

pytestmark = pytest.mark.dut_role("evse")

ZERO = "0000000000000000"
FOREIGN = "0badc0ffee000009"
T_resume = SpecTimer("T_resume", 12.5 + V2G_EVCC_CommunicationSetup_Timeout.seconds,
                     "SDP retries (V2G2-161: 50 × 250 ms) + V2G_EVCC_CommunicationSetup_Timeout: from the resume "
                     "command to the new SessionSetupRes")


def foreign(case_id: str, request: str, nth: int = 1, protocol: str = DC):
    return pytest.param(protocol, request, nth, id=case_id)


@pytest.mark.requirement("V2G2-460")
@pytest.mark.fails_with("evse-accepts-unknown-session")
@pytest.mark.parametrize(("protocol", "request_name", "nth"), [
    foreign("service-discovery", "ServiceDiscoveryReq"),
    foreign("payment-service-selection", "PaymentServiceSelectionReq"),
    foreign("authorization", "AuthorizationReq"),
    foreign("charge-parameter-discovery", "ChargeParameterDiscoveryReq"),
    foreign("cable-check", "CableCheckReq"),
    foreign("ac-power-delivery", "PowerDeliveryReq", protocol=AC),
    foreign("ac-charging-status", "ChargingStatusReq", nth=2, protocol=AC),
])
def test_request_with_a_foreign_session_id_is_refused(v2g, protocol, request_name, nth):
    """A request whose SessionID is not the one the charger assigned is answered with FAILED_UnknownSession."""
    v2g.start(protocol, faults=[Fault(request_name, "set_field", {"Header.SessionID": FOREIGN}, nth=nth)])
    request = v2g.staged()
    v2g.check(v2g.session_id(request) == FOREIGN, f"our car sent SessionID {v2g.session_id(request)}", mark=request)
    answer(v2g, request, "FAILED_UnknownSession")


@pytest.mark.smoke
@pytest.mark.requirement("V2G2-756")
@pytest.mark.fails_with("evse-session-id-zero")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_a_new_session_gets_a_non_zero_session_id(v2g, protocol):
    """SessionSetupReq with SessionID 0 starts a new session: OK_NewSessionEstablished with a non-zero SessionID."""
    v2g.start(protocol)
    request = v2g.expect("SessionSetupReq")
    v2g.check(v2g.session_id(request) == ZERO, f"our car offered SessionID {v2g.session_id(request)}", mark=request)
    response = answer(v2g, request, "OK_NewSessionEstablished")
    v2g.check(v2g.session_id(response).strip("0"), f"SessionSetupRes assigned SessionID {v2g.session_id(response)}",
              mark=response)


@pytest.mark.requirement("V2G2-756")
@pytest.mark.fails_with("evse-joins-unknown-session")
def test_an_unknown_session_id_in_session_setup_gets_a_new_session(v2g):
    """SessionSetupReq with a SessionID the charger never assigned is answered with OK_NewSessionEstablished and a
    new SessionID, non-zero and different from the one offered."""
    v2g.start(DC, faults=[Fault("SessionSetupReq", "set_field", {"Header.SessionID": UNKNOWN_SESSION_ID})])
    request = v2g.staged()
    response = answer(v2g, request, "OK_NewSessionEstablished")
    assigned = v2g.session_id(response)
    v2g.check(assigned.strip("0") and assigned != UNKNOWN_SESSION_ID,
              f"SessionSetupRes assigned SessionID {assigned} to a car that offered {UNKNOWN_SESSION_ID}", mark=response)


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-ISO2-SID-01")
@pytest.mark.fails_with("evse-session-id-changes")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_every_response_carries_the_assigned_session_id(v2g, protocol):
    """Every response after SessionSetupRes carries the SessionID the charger assigned in SessionSetupRes."""
    v2g.start(protocol)
    setup = first_response(v2g, "SessionSetupRes")
    v2g.run_to_end()
    assigned = v2g.session_id(setup)
    later = v2g.messages(sender="dut", after=setup)
    v2g.check(later, "no response after SessionSetupRes")
    for response in later:
        v2g.check(v2g.session_id(response) == assigned,
                  f"{response.name} carries SessionID {v2g.session_id(response)}, the session's is {assigned}",
                  mark=response)


def pause_after(v2g, protocol: str):
    """Charge for three loops, then pause: PowerDelivery(Stop) and SessionStopReq(ChargingSession=Pause)."""
    loop = "CurrentDemandRes" if protocol == DC else "ChargingStatusRes"
    v2g.start(protocol, tester={"charge_loops": None, "charge_time": 30.0})
    v2g.expect(loop, nth=3)
    v2g.command("pause")
    stop = v2g.expect(lambda r: r.name == "SessionStopReq" and r.dir == "to_dut", what="our car's SessionStopReq")
    v2g.check(v2g.field(stop, "ChargingSession") == "Pause",
              f"our car sent ChargingSession={v2g.field(stop, 'ChargingSession')}", mark=stop)
    return stop


@pytest.mark.requirement("V2G2-570")
@pytest.mark.fails_with("evse-refuses-pause")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_session_stop_pause_is_accepted(v2g, protocol):
    """SessionStopReq with ChargingSession=Pause is answered with SessionStopRes OK."""
    stop = pause_after(v2g, protocol)
    answer(v2g, stop, "OK")


@pytest.mark.requirement("V2G2-741")
@pytest.mark.fails_with("evse-forgets-paused-session")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_a_paused_session_is_resumed_with_its_session_id(v2g, protocol):
    """After SessionStop(Pause), a new SessionSetupReq carrying the paused SessionID is answered with
    OK_OldSessionJoined and that same SessionID, and the resumed session goes on."""
    stop = pause_after(v2g, protocol)
    answer(v2g, stop, "OK")
    paused = v2g.session_id(stop)
    v2g.run_to_end()
    mark = len(v2g.timeline)
    v2g.command("resume")
    setup = wait_for(v2g, lambda r: r.layer == "exi" and r.name == "SessionSetupReq" and r.dir == "to_dut",
                     T_resume, mark, "our car's SessionSetupReq after resume")
    v2g.check(v2g.session_id(setup) == paused, f"our car resumed with SessionID {v2g.session_id(setup)}",
              mark=setup)
    response = answer(v2g, setup, "OK_OldSessionJoined")
    v2g.check(v2g.session_id(response) == paused,
              f"SessionSetupRes joined SessionID {v2g.session_id(response)}, the paused one is {paused}",
              mark=response)
    discovery = wait_for(v2g, lambda r: r.layer == "exi" and r.name == "ServiceDiscoveryReq" and r.dir == "to_dut",
                         v2g.timeout("SessionSetup"), v2g.index(response), "our car's ServiceDiscoveryReq")
    answer(v2g, discovery, "OK")
