"""Every spec timer of both roles fires at the right moment, with the timer's name, and ends the session cleanly.

The expected values are PROTOCOL.md §D.1 written out again here (an independent oracle for the tables)."""

from __future__ import annotations

import pytest

from stack.sessions.faults import Fault, fault_set
from tests.sessions.helpers import ended, exi, findings, make_pair

DIN_FLOW = ["SessionSetup", "ServiceDiscovery", "ServicePaymentSelection", "ContractAuthentication",
            "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery", "CurrentDemand",
            "WeldingDetection", "SessionStop"]
ISO2_DC_FLOW = ["SessionSetup", "ServiceDiscovery", "PaymentServiceSelection", "Authorization",
                "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery", "CurrentDemand",
                "WeldingDetection", "SessionStop"]
ISO2_AC_FLOW = ["SessionSetup", "ServiceDiscovery", "PaymentServiceSelection", "Authorization",
                "ChargeParameterDiscovery", "PowerDelivery", "ChargingStatus", "SessionStop"]
SECONDS = {("din", "CurrentDemand"): 0.25, ("iso2", "CurrentDemand"): 0.25, ("iso2", "PowerDelivery"): 5.0}
CASES = ([("din", p) for p in DIN_FLOW] + [("iso2-dc", p) for p in ISO2_DC_FLOW]
         + [("iso2-ac", p) for p in ISO2_AC_FLOW] + [(p, "supportedAppProtocol") for p in ("din", "iso2-ac")])


@pytest.mark.parametrize(("protocol", "pair_name"), CASES)
def test_evcc_gives_up_after_the_message_timeout_of_the_unanswered_request(protocol, pair_name):
    expected = SECONDS.get((protocol[:4].rstrip("-"), pair_name), 2.0)
    response = "supportedAppProtocolRes" if pair_name == "supportedAppProtocol" else f"{pair_name}Res"
    pair = make_pair(protocol, pev={"charge_loops": 2}, evse_faults=[Fault(response, "silence")])
    pair.run()
    result = pair.pev.result
    request = "supportedAppProtocolReq" if pair_name == "supportedAppProtocol" else f"{pair_name}Req"
    assert not result.ok
    assert f"V2G_EVCC_Msg_Timeout({request}) ({expected:g} s)" in result.reason
    sent = exi(pair, request)[-1].t
    end = ended(pair, "pev")
    assert end.body["timer"] == f"V2G_EVCC_Msg_Timeout({request})"
    assert end.t - sent == pytest.approx(expected, abs=1e-6)
    assert pair.runner.timeline.select(name="close", layer="tcp")  # the EV closes the connection


@pytest.mark.parametrize(("protocol", "fault", "timer", "seconds", "first"), [
    ("din", "evse-cable-check-forever", "V2G_EVCC_CableCheck_Timeout", 40, "CableCheckReq"),
    ("iso2-dc", "evse-cable-check-forever", "V2G_EVCC_CableCheck_Timeout", 40, "CableCheckReq"),
    ("din", "evse-precharge-no-voltage", "V2G_EVCC_PreCharge_Timeout", 7, "PreChargeReq"),
    ("iso2-dc", "evse-precharge-no-voltage", "V2G_EVCC_PreCharge_Timeout", 7, "PreChargeReq"),
])
def test_evcc_loop_timers(protocol, fault, timer, seconds, first):
    chosen = fault_set(fault)
    pair = make_pair(protocol, evse=chosen.configure(), evse_faults=chosen.faults)
    pair.run()
    end = ended(pair, "pev")
    assert end.body["timer"] == timer and not end.body["ok"]
    assert end.t - exi(pair, first)[0].t == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize(("protocol", "timer", "seconds", "first"), [
    ("iso2-ac", "V2G_EVCC_Ongoing_Timeout", 60, "AuthorizationReq"),
    ("iso2-dc", "V2G_EVCC_Ongoing_Timeout", 60, "AuthorizationReq"),
    ("din", "V2G_EVCC_ReadyToCharge_Timeout", 150, "ContractAuthenticationReq"),
])
def test_evcc_ongoing_loops_are_bounded(protocol, timer, seconds, first):
    pair = make_pair(protocol, evse={"authorization_time": None})
    pair.run()
    end = ended(pair, "pev")
    assert end.body["timer"] == timer
    assert end.t - exi(pair, first)[0].t == pytest.approx(seconds, abs=1e-6)


def test_evcc_communication_setup_timeout_spans_handshake_and_session_setup():
    faults = [Fault("supportedAppProtocolRes", "delay", 15.0), Fault("SessionSetupRes", "delay", 9.0)]
    pair = make_pair("iso2-dc", evse_faults=faults, pev={"msg_timeout_scale": 10})
    pair.run()
    end = ended(pair, "pev")
    assert end.body["timer"] == "V2G_EVCC_CommunicationSetup_Timeout"
    opened = exi(pair, "supportedAppProtocolReq")[0].t  # sent as the connection came up
    assert end.t - opened == pytest.approx(20.0, abs=1e-6)


def test_sdp_client_gives_up_after_50_requests_250_ms_apart():
    pair = make_pair("din", evse_faults=fault_set("evse-no-sdp-response").faults)
    pair.run()
    requests = pair.runner.timeline.select(name="SDP.REQ", layer="sdp")
    assert len(requests) == 50
    gaps = {round(b.t - a.t, 6) for a, b in zip(requests, requests[1:], strict=False)}
    assert gaps == {0.25}
    assert not pair.pev.result.ok and pair.pev.result.requirement == "V2G2-161"
    assert not exi(pair)


@pytest.mark.parametrize(("protocol", "requirement"), [("din", "V2G-DC-432"), ("iso2-dc", "V2G2-443")])
def test_secc_sequence_timeout_closes_the_connection(protocol, requirement):
    pair = make_pair(protocol, pev_faults=fault_set("pev-silent-after-precharge").faults)
    pair.run(until=lambda: ended(pair, "evse") is not None)
    finding = findings(pair, "evse")[-1]
    assert finding.body["requirement"] == requirement
    assert "V2G_SECC_Sequence_Timeout (60 s)" in finding.body["error"]
    assert ended(pair, "evse").t - exi(pair, "PreChargeRes")[-1].t == pytest.approx(60.0, abs=1e-6)
    assert not ended(pair, "evse").body["ok"]


def test_secc_waits_for_the_handshake_only_for_the_communication_setup_time():
    pair = make_pair("iso2-dc", pev_faults=[Fault("supportedAppProtocolReq", "silence")])
    pair.run(until=lambda: ended(pair, "evse") is not None)
    opened = [r for r in pair.runner.timeline.select(name="connected", layer="state")][0].t
    assert ended(pair, "evse").t - opened == pytest.approx(20.0, abs=1e-6)
    assert "V2G_EVCC_CommunicationSetup_Timeout" in findings(pair, "evse")[-1].body["error"]


def test_secc_holds_ac_power_delivery_for_the_cp_detection_time_then_refuses():
    pair = make_pair("iso2-ac", max_load="B")  # the car's S2 never closes: the pilot stays in B
    pair.run()
    request, response = exi(pair, "PowerDeliveryReq")[0], exi(pair, "PowerDeliveryRes")[0]
    assert response.t - request.t == pytest.approx(1.5, abs=0.001)  # + one in-process hop
    assert response.body["V2G_Message"]["Body"]["PowerDeliveryRes"]["ResponseCode"] == "FAILED_PowerDeliveryNotApplied"
    assert findings(pair, "evse")[-1].body["requirement"] == "V2G2-917"
    assert not pair.pev.result.ok


def test_secc_keeps_cable_check_ongoing_until_the_pilot_shows_c():
    pair = make_pair("din", max_load="B")
    pair.run()
    answers = exi(pair, "CableCheckRes")
    assert {r.body["V2G_Message"]["Body"]["CableCheckRes"]["EVSEProcessing"] for r in answers} == {"Ongoing"}
    assert ended(pair, "pev").body["timer"] == "V2G_EVCC_CableCheck_Timeout"
    assert pair.evse.stage.isolation_started is None  # no insulation test with open contactors
