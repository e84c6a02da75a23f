"""DIN SPEC 70121, charger under test: the handshake, SessionSetup, the session ID and request/response pairing.
Our car (the tester) offers only DIN 70121."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault

pytestmark = pytest.mark.dut_role("evse")

DIN_NAMESPACE = "urn:din:70121:2012:MsgDef"
FOREIGN_ID = "0badc0ffee000009"


@pytest.mark.smoke
@pytest.mark.requirement("V2G-DC-436")
@pytest.mark.fails_with("evse-sap-no-negotiation", "evse-slow-supported-app-protocol")
def test_charger_accepts_din_when_the_car_offers_only_din(v2g):
    """A supportedAppProtocolReq offering only DIN 70121 is answered OK_SuccessfulNegotiation naming DIN's SchemaID."""
    v2g.start("din")
    request = v2g.expect("supportedAppProtocolReq")
    response = v2g.expect_answer(request, code="OK_SuccessfulNegotiation")
    offered = {entry["SchemaID"]: entry["ProtocolNamespace"] for entry in v2g.body(request)["AppProtocol"]}
    chosen = v2g.body(response).get("SchemaID")
    v2g.check(offered.get(chosen) == DIN_NAMESPACE,
              f"supportedAppProtocolRes chose SchemaID {chosen}, the offered DIN entry is {offered}", mark=response)


@pytest.mark.requirement("V2G-DC-393")
@pytest.mark.fails_with("evse-session-setup-code", "evse-session-id-zero")
def test_new_session_is_established_with_a_new_session_id(v2g):
    """SessionSetupReq with SessionID 0 is answered OK_NewSessionEstablished with a new, non-zero SessionID."""
    v2g.start("din")
    response = v2g.expect_response("SessionSetup", code="OK_NewSessionEstablished")
    assigned = v2g.session_id(response) or ""
    v2g.check(assigned.strip("0") != "", f"SessionSetupRes assigns SessionID {assigned or '(none)'}", mark=response)


@pytest.mark.requirement("CCSHIL-DIN-SID-01")
@pytest.mark.fails_with("evse-session-id-changes")
def test_every_response_carries_the_assigned_session_id(v2g):
    """Every response after SessionSetupRes carries the SessionID the charger assigned in it."""
    v2g.start("din")
    setup = v2g.expect_response("SessionSetup")
    v2g.run_to_end()
    later = v2g.messages(sender="dut", after=setup)
    v2g.check(later, "no response after SessionSetupRes", mark=setup)
    for response in later:
        v2g.check(v2g.session_id(response) == v2g.session_id(setup),
                  f"{response.name} carries SessionID {v2g.session_id(response)}, SessionSetupRes assigned "
                  f"{v2g.session_id(setup)}", mark=response)


@pytest.mark.requirement("V2G-DC-391")
@pytest.mark.fails_with("evse-accepts-unknown-session")
@pytest.mark.parametrize(("request_name", "nth"), [
    pytest.param("ServiceDiscoveryReq", 1, id="service-discovery"),
    pytest.param("ChargeParameterDiscoveryReq", 1, id="charge-parameter-discovery"),
    pytest.param("CurrentDemandReq", 3, id="current-demand"),
])
def test_request_with_a_foreign_session_id_is_refused(v2g, request_name, nth):
    """A request after SessionSetup whose SessionID is not the session's is answered FAILED_UnknownSession."""
    v2g.start("din", faults=[Fault(request_name, "set_field", {"Header.SessionID": FOREIGN_ID}, nth=nth)])
    request = v2g.staged()
    v2g.check(v2g.session_id(request) == FOREIGN_ID, f"{request.name} went out with {v2g.session_id(request)}")
    v2g.expect_answer(request, code="FAILED_UnknownSession")


@pytest.mark.requirement("CCSHIL-DIN-MSG-01")
@pytest.mark.fails_with("evse-wrong-response", "evse-duplicate-response")
def test_each_request_gets_exactly_its_own_response(v2g):
    """The charger answers each request with the response of the same pair, exactly once."""
    v2g.start("din")
    v2g.run_to_end()
    open_request = None
    for record in v2g.messages():
        if record.dir == "to_dut":
            open_request = record
            continue
        if open_request is None:
            v2g.fail(f"{record.name} answers no open request (a duplicate?)", mark=record)
        expected = open_request.name[:-3] + "Res"
        v2g.check(record.name == expected, f"{open_request.name} answered with {record.name}", mark=record)
        open_request = None
    v2g.check(v2g.messages("SessionStopRes", sender="dut"), "the session did not reach SessionStopRes")
