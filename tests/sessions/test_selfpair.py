"""Our EVSE against our PEV in process (virtual clock, in-process IP and pilot): DIN, ISO-2 DC and AC, through to
SessionStop, plus the operator commands (stop, emergency, pause/resume, renegotiation, unplug)."""

from __future__ import annotations

import pytest

from tests.sessions.helpers import EVSE_IP, PEV_IP, body, collapse, ended, exi, findings, make_pair

FLOW = {
    "din": ["supportedAppProtocol", "SessionSetup", "ServiceDiscovery", "ServicePaymentSelection",
            "ContractAuthentication", "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery",
            "CurrentDemand", "PowerDelivery", "WeldingDetection", "SessionStop"],
    "iso2-dc": ["supportedAppProtocol", "SessionSetup", "ServiceDiscovery", "PaymentServiceSelection",
                "Authorization", "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery",
                "CurrentDemand", "PowerDelivery", "WeldingDetection", "SessionStop"],
    "iso2-ac": ["supportedAppProtocol", "SessionSetup", "ServiceDiscovery", "PaymentServiceSelection",
                "Authorization", "ChargeParameterDiscovery", "PowerDelivery", "ChargingStatus", "PowerDelivery",
                "SessionStop"],
}


def pairs_of(pair):
    """Request names of the PEV in order, each checked to be answered by the matching response."""
    records = exi(pair)
    names = []
    for request, response in zip(records[::2], records[1::2], strict=False):
        assert request.src == PEV_IP and response.src == EVSE_IP, (request.name, response.name)
        assert response.name[:-3] == request.name[:-3], (request.name, response.name)
        names.append(request.name[:-3])
    assert len(records) % 2 == 0
    return names


@pytest.mark.parametrize("protocol", ["din", "iso2-dc", "iso2-ac"])
def test_full_session_through_session_stop(protocol):
    pair = make_pair(protocol, pev={"charge_loops": 8})
    result = pair.run()
    assert result.reached
    assert pair.pev.result.ok, pair.pev.result
    assert pair.evse.sessions_completed == 1
    assert collapse(pairs_of(pair)) == FLOW[protocol]
    for record in exi(pair, sender="evse"):
        code = body(record).get("ResponseCode") or record.body.get("supportedAppProtocolRes", {}).get("ResponseCode")
        assert code.startswith("OK"), (record.name, code)
    # one non-zero SessionID, assigned in SessionSetupRes, on every later message
    ids = {r.body["V2G_Message"]["Header"]["SessionID"] for r in exi(pair)[4:]}
    assert len(ids) == 1 and ids.pop().strip("0")
    assert exi(pair, "SessionSetupReq")[0].body["V2G_Message"]["Header"]["SessionID"] == "0000000000000000"
    assert len(exi(pair, "CurrentDemandReq" if protocol != "iso2-ac" else "ChargingStatusReq")) == 8
    assert not findings(pair)


@pytest.mark.parametrize("protocol", ["din", "iso2-dc"])
def test_dc_pilot_goes_to_c_before_cable_check_and_back_to_b_after_power_delivery_stop(protocol):
    pair = make_pair(protocol, pev={"charge_loops": 3})
    pair.run()
    loads = [(r.t, r.body["state"]) for r in pair.runner.timeline.select(name="load", layer="cp")]
    first_cable_check = exi(pair, "CableCheckReq")[0].t
    stop_response = [r for r in exi(pair, "PowerDeliveryRes")][-1].t
    assert [s for _, s in loads] == ["B", "C", "B"]
    assert loads[1][0] <= first_cable_check
    assert stop_response <= loads[2][0] <= stop_response + 0.25  # [V2G2-848]
    assert pair.pilot.history[0] == (0.0, "A", 5.0)  # 5 % PWM from the start: digital communication


def test_ac_pilot_goes_to_c_with_power_delivery_start_and_the_evse_waits_for_it():
    pair = make_pair("iso2-ac", pev={"charge_loops": 3})
    pair.run()
    load_c = [r.t for r in pair.runner.timeline.select(name="load", layer="cp") if r.body["state"] == "C"][0]
    start_req, start_res = exi(pair, "PowerDeliveryReq")[0], exi(pair, "PowerDeliveryRes")[0]
    assert load_c <= start_req.t
    assert start_res.t >= load_c + pair.pilot.latency  # held until the EVSE saw C
    assert pair.state("waiting_for_cp")


def test_battery_charges_and_the_pev_stops_when_full():
    pair = make_pair("din", pev={"battery": {"capacity_kwh": 10, "soc": 50, "target_soc": 52, "time_scale": 50}})
    pair.run()
    assert pair.pev.result.ok
    assert pair.pev.battery.soc >= 52
    last_request = body(exi(pair, "CurrentDemandReq")[-1])
    assert last_request["ChargingComplete"] is True or exi(pair, "PowerDeliveryReq")
    currents = [body(r)["EVSEPresentCurrent"] for r in exi(pair, "CurrentDemandRes")]
    assert max(c["Value"] * 10 ** c["Multiplier"] for c in currents) > 50  # the stage delivered real current


def test_precharge_ends_when_the_evse_voltage_reaches_the_target():
    pair = make_pair("iso2-dc", pev={"charge_loops": 2})
    pair.run()
    last = body(exi(pair, "PreChargeRes")[-1])["EVSEPresentVoltage"]
    target = body(exi(pair, "PreChargeReq")[-1])["EVTargetVoltage"]
    value = lambda pv: pv["Value"] * 10 ** pv["Multiplier"]  # noqa: E731
    assert abs(value(last) - value(target)) <= 10
    assert len(exi(pair, "PreChargeReq")) > 3  # the stage ramps: not instant


def test_evse_serves_consecutive_sessions_with_fresh_session_ids():
    from harness.runtime import Node
    from stack.roles import Pev
    from stack.sessions.config import PevConfig

    pair = make_pair("din", pev={"charge_loops": 2}, cp=False)
    pair.run()
    second = Pev(PevConfig.for_protocol("din", control_pilot=False, charge_loops=2))
    node = pair.runner.add(Node("pev2", second, "02:00:00:00:00:0c", "fe80::c"))
    pair.runner.nodes["evse"].ip.fabric.attach(node)
    pair.run(until=lambda: second.done)
    assert second.result.ok and pair.evse.sessions_completed == 2
    ids = [r.body["V2G_Message"]["Header"]["SessionID"] for r in exi(pair, "SessionSetupRes")]
    assert len(set(ids)) == 2


def test_evse_stop_charging_command_ends_the_session_normally():
    pair = make_pair("iso2-dc")
    pair.run(until=lambda: len(exi(pair, "CurrentDemandRes")) >= 3)
    pair.runner.command("evse", "stop_charging")
    pair.run()
    assert pair.pev.result.ok
    notified = [body(r)["DC_EVSEStatus"]["EVSENotification"] for r in exi(pair, "CurrentDemandRes")]
    assert notified[-1] == "StopCharging" and notified[0] == "None"
    assert collapse(pairs_of(pair))[-4:] == ["CurrentDemand", "PowerDelivery", "WeldingDetection", "SessionStop"]


@pytest.mark.parametrize("protocol", ["din", "iso2-dc"])
def test_evse_emergency_stop_cuts_power_and_the_pev_stops_without_welding_detection(protocol):
    pair = make_pair(protocol)
    pair.run(until=lambda: len(exi(pair, "CurrentDemandRes")) >= 3)
    pair.runner.command("evse", "emergency_stop")
    assert pair.evse.stage.current > 0
    pair.run()
    assert pair.evse.stage.current == 0 and pair.evse.stage.emergency
    last = body(exi(pair, "CurrentDemandRes")[-1])
    assert last["DC_EVSEStatus"]["EVSEStatusCode"] == "EVSE_EmergencyShutdown"
    assert last["EVSEPresentCurrent"]["Value"] == 0
    assert not exi(pair, "WeldingDetectionReq")
    assert collapse(pairs_of(pair))[-3:] == ["CurrentDemand", "PowerDelivery", "SessionStop"]


def test_pev_emergency_stop_opens_the_pilot_at_once_and_the_evse_switches_off():
    pair = make_pair("din")
    pair.run(until=lambda: len(exi(pair, "CurrentDemandRes")) >= 3)
    at = pair.runner.clock.now()
    pair.runner.command("pev", "emergency_stop")
    pair.run(until=lambda: not pair.evse.stage.output_on, seconds=1)
    assert pair.runner.clock.now() - at <= 0.1  # IEC 61851-1: de-energise within 100 ms of C->B
    pair.run()
    stop = body(exi(pair, "PowerDeliveryReq")[-1])
    assert stop["ReadyToChargeState"] is False
    assert stop["DC_EVPowerDeliveryParameter"]["DC_EVStatus"]["EVReady"] is False
    assert not exi(pair, "WeldingDetectionReq")


@pytest.mark.parametrize("protocol", ["iso2-dc", "iso2-ac"])
def test_pause_and_resume_with_the_old_session_id(protocol):
    loop = "CurrentDemandRes" if protocol == "iso2-dc" else "ChargingStatusRes"
    pair = make_pair(protocol, pev={"charge_loops": 4})
    pair.run(until=lambda: len(exi(pair, loop)) >= 2)
    pair.runner.command("pev", "pause")
    pair.run(until=lambda: pair.pev.phase == "paused")
    stop = exi(pair, "SessionStopReq")
    assert body(stop[0]) == {"ChargingSession": "Pause"}
    paused_id = stop[0].body["V2G_Message"]["Header"]["SessionID"]
    assert pair.evse.ctx.paused.session_id == paused_id
    assert pair.pilot.duty is None  # X1 while paused [V2G3-M07-20]
    pair.runner.command("pev", "resume")
    pair.run(until=lambda: pair.pev.phase == "done")
    assert pair.pev.result.ok and pair.pev.result.paused_session_id is None
    setup_req, setup_res = exi(pair, "SessionSetupReq")[1], exi(pair, "SessionSetupRes")[1]
    assert setup_req.body["V2G_Message"]["Header"]["SessionID"] == paused_id
    assert body(setup_res)["ResponseCode"] == "OK_OldSessionJoined"
    assert setup_res.body["V2G_Message"]["Header"]["SessionID"] == paused_id
    assert body(exi(pair, "SessionStopReq")[-1]) == {"ChargingSession": "Terminate"}
    assert pair.pilot.duty == 5.0


@pytest.mark.parametrize("who", ["evse", "pev"])
def test_iso2_renegotiation(who):
    pair = make_pair("iso2-dc", pev={"charge_loops": 6})
    pair.run(until=lambda: len(exi(pair, "CurrentDemandRes")) >= 2)
    pair.runner.command(who, "renegotiate")
    pair.run()
    assert pair.pev.result.ok
    flow = collapse(pairs_of(pair))
    at = flow.index("CurrentDemand")
    assert flow[at:at + 5] == ["CurrentDemand", "PowerDelivery", "ChargeParameterDiscovery", "PowerDelivery",
                               "CurrentDemand"]
    assert [body(r)["ChargeProgress"] for r in exi(pair, "PowerDeliveryReq")] == ["Start", "Renegotiate", "Start",
                                                                                   "Stop"]
    if who == "evse":
        notes = [body(r)["DC_EVSEStatus"]["EVSENotification"] for r in exi(pair, "CurrentDemandRes")]
        assert "ReNegotiation" in notes


def test_din_ignores_pause_and_renegotiation_commands():
    pair = make_pair("din", pev={"charge_loops": 4})
    pair.run(until=lambda: len(exi(pair, "CurrentDemandRes")) >= 1)
    pair.runner.command("pev", "pause")
    pair.runner.command("pev", "renegotiate")
    pair.run()
    assert pair.pev.result.ok and pair.pev.result.paused_session_id is None
    ignored = [r.body["command"] for r in pair.state("command_ignored")]
    assert ignored == ["pause", "renegotiate"]


def test_unplug_during_charging_switches_the_evse_off_and_ends_both_sides():
    pair = make_pair("din")
    pair.run(until=lambda: len(exi(pair, "CurrentDemandRes")) >= 3)
    pair.runner.command("pev", "unplug")
    pair.run(until=lambda: ended(pair, "evse") is not None, seconds=5)
    assert not pair.pev.result.ok and pair.pev.result.reason == "unplugged"
    assert not ended(pair, "evse").body["ok"]
    assert not pair.evse.stage.output_on


@pytest.mark.parametrize(("protocol", "ongoing"), [("din", "Ongoing"),
                                                   ("iso2-dc", "Ongoing_WaitingForCustomerInteraction")])
def test_authorization_stays_ongoing_for_the_configured_time(protocol, ongoing):
    pair = make_pair(protocol, evse={"authorization_time": 1.0}, pev={"charge_loops": 2})
    pair.run()
    answers = [body(r)["EVSEProcessing"] for r in exi(pair, "AuthorizationRes" if protocol != "din"
                                                       else "ContractAuthenticationRes")]
    assert set(answers[:-1]) == {ongoing} and answers[-1] == "Finished"
    assert 9 <= len(answers) <= 12  # every cycle (0.1 s) for 1 s
    assert pair.pev.result.ok


def test_authorization_waits_for_the_operator_when_configured():
    pair = make_pair("iso2-ac", evse={"authorization_time": None}, pev={"charge_loops": 2})
    pair.run(until=lambda: len(exi(pair, "AuthorizationRes")) >= 20)
    pair.runner.command("evse", "authorize")
    pair.run()
    assert pair.pev.result.ok


def test_charge_parameter_discovery_ongoing():
    pair = make_pair("iso2-dc", evse={"charge_parameter_time": 0.5}, pev={"charge_loops": 2})
    pair.run()
    answers = exi(pair, "ChargeParameterDiscoveryRes")
    assert [body(r)["EVSEProcessing"] for r in answers][-1] == "Finished" and len(answers) >= 5
    assert "SAScheduleList" not in body(answers[0]) and "SAScheduleList" in body(answers[-1])


def test_isolation_fault_fails_cable_check_and_both_sides_stop():
    pair = make_pair("din", evse={"power": {"isolation_result": "Fault"}})
    pair.run()
    last = body(exi(pair, "CableCheckRes")[-1])
    assert last["ResponseCode"] == "FAILED" and last["DC_EVSEStatus"]["EVSEIsolationStatus"] == "Fault"
    assert not pair.pev.result.ok and "FAILED" in pair.pev.result.reason
    assert not exi(pair, "PreChargeReq")


def test_runs_are_deterministic_with_a_seed():
    first, second = make_pair("iso2-dc", pev={"charge_loops": 3}), make_pair("iso2-dc", pev={"charge_loops": 3})
    first.run()
    second.run()
    assert [r.to_dict() for r in first.runner.timeline.events()] == [r.to_dict() for r in second.runner.timeline.events()]


@pytest.mark.parametrize("protocol", ["din", "iso2-ac"])
@pytest.mark.parametrize("cp", [True, False])
def test_slac_then_session_through_the_modem_emulator(protocol, cp):
    pair = make_pair(protocol, pev={"charge_loops": 3}, slac=True, cp=cp)
    pair.run()
    assert pair.pev.result.ok and pair.pev.slac.matched and pair.evse.slac.matched
    matched = [r for r in pair.runner.timeline.select(name="slac_matched", layer="state") if r.src == "pev"][0]
    first_sdp = pair.runner.timeline.select(name="SDP.REQ", layer="sdp")[0]
    assert first_sdp.t >= matched.t  # IP only after the match
    assert collapse(pairs_of(pair)) == FLOW[protocol]
    if cp:  # steady +12 V first, 5 % once the car is in B (SLAC's rule), then matching
        duties = [r.body["duty"] for r in pair.runner.timeline.select(name="oscillator", layer="cp")]
        assert duties[:2] == [None, 5.0]
