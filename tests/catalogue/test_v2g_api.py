"""The `v2g` API catalogue tests build on: seats per rig kind, tester faults, pilot ceiling, keep_open, checks that
name the requirement, and the skips for what a rig cannot do (configure or command an external DUT)."""

from __future__ import annotations

import pytest

from harness.assertions import TimelineAssertionError
from harness.bench import Bench
from harness.catalogue import V2G, Fault, register_seat
from harness.catalogue.seats import Seat, fill_seat
from harness.rig import load
from stack.sessions.din70121 import V2G_EVCC_CableCheck_Timeout


def sim(role: str, faults: frozenset[str] = frozenset()) -> Bench:
    return Bench(load("sim"), dut_role=role, dut_faults=faults)


def test_dut_charger_happy_path_on_sim():
    with sim("evse") as bench:
        v2g = V2G(bench).start("din")
        response = v2g.expect_response("SessionSetup", code="OK_NewSessionEstablished")
        assert response.dir == "from_dut" and v2g.session_id(response) != "0000000000000000"
        v2g.run_to_end()
        exchanges = v2g.assert_answered_in_time()
        assert [e.pair for e in exchanges][:3] == ["SupportedAppProtocol", "SessionSetup", "ServiceDiscovery"]
        assert v2g.tester.result.ok and len(v2g.messages("CurrentDemandReq", sender="tester")) == 10
        v2g.assert_no_findings()
        assert v2g.seat.endpoint.sessions_completed == 1  # our EVSE sat in the DUT seat


def test_dut_car_happy_path_on_sim_and_dut_settings():
    with sim("pev") as bench:
        v2g = V2G(bench).start("din", dut={"charge_loops": 3})
        v2g.run_to_end()
        assert len(v2g.messages("CurrentDemandReq", sender="dut")) == 3
        assert {r.dir for r in v2g.messages()} == {"to_dut", "from_dut"}
        v2g.assert_no_findings()


@pytest.mark.requirement("FAKE-REQ-1")
def test_a_failed_check_names_the_requirement_and_shows_the_timeline():
    with sim("evse") as bench:
        v2g = V2G(bench).start("din")
        response = v2g.expect("SessionSetupRes")
        with pytest.raises(TimelineAssertionError) as caught:
            v2g.check(v2g.code(response) == "FAILED", "SessionSetupRes is not FAILED", mark=response)
        text = str(caught.value)
        assert text.startswith("requirement FAKE-REQ-1 not met\nSessionSetupRes is not FAILED")
        assert ">> #" in text and "SessionSetupRes" in text


@pytest.mark.requirement("FAKE-REQ-2")
def test_expect_fails_when_the_point_is_not_reached_and_says_why_the_tester_stopped():
    with sim("evse", frozenset({"evse-sap-no-negotiation"})) as bench:
        v2g = V2G(bench).start("din")
        with pytest.raises(TimelineAssertionError, match="SessionSetupRes did not happen within T_session .*the "
                                                         "tester's session ended: supportedAppProtocolRes"):
            v2g.expect("SessionSetupRes")


def test_tester_faults_stage_a_faulty_peer_and_keep_open_lets_the_dut_close():
    with sim("evse") as bench:
        v2g = V2G(bench).start("din", faults=[Fault("ServiceDiscoveryReq", "set_field",
                                                    {"Header.SessionID": "0badc0ffee000009"})], keep_open=True)
        response = v2g.expect_response("ServiceDiscovery", code="FAILED_UnknownSession")
        closed = v2g.assert_dut_closes(response, v2g.timeout("ServiceDiscovery"))
        assert closed.t - response.t < 0.01


def test_pilot_ceiling_keeps_the_car_in_B():
    with sim("evse") as bench:
        v2g = V2G(bench).start("din", pilot_max="B")
        v2g.expect("CableCheckRes", nth=3)
        assert v2g.pilot_at(len(v2g.timeline)) == "B"
        assert v2g.field(v2g.messages("CableCheckRes")[-1], "EVSEProcessing") == "Ongoing"
        v2g.run_to_end()
        assert "V2G_EVCC_CableCheck_Timeout" in v2g.tester.result.reason
        assert bench.clock.now() >= V2G_EVCC_CableCheck_Timeout.seconds


def test_dut_commands_reach_our_stack_in_the_seat():
    with sim("evse") as bench:
        v2g = V2G(bench).start("din", tester={"charge_loops": None, "charge_time": 30})
        v2g.expect("CurrentDemandRes", nth=3)
        v2g.dut_command("stop_charging")
        v2g.run_to_end()
        notes = [v2g.field(r, "DC_EVSEStatus.EVSENotification") for r in v2g.messages("CurrentDemandRes")]
        assert "StopCharging" in notes and v2g.tester.result.ok


def test_an_external_dut_cannot_be_configured_or_commanded():
    with Bench(load("ioniq")) as bench:
        v2g = V2G(bench)
        assert v2g.dut_role == "pev"
        with pytest.raises(pytest.skip.Exception, match="needs dut-setup: .*charge_loops.*ioniq's vehicle"):
            v2g.start("din", dut={"charge_loops": 3})
    seat = Seat("vehicle")
    assert not seat.controllable and not seat.configurable


def test_other_dut_kinds_come_from_registered_seats(monkeypatch):
    built = []

    def factory(bench, role, protocol, config, slac):
        built.append((role, protocol, slac))
        return Seat("reference", commands=lambda name: built.append(name))

    register_seat("reference", factory)
    rig = load("sim")
    monkeypatch.setitem(rig.dut, "kind", "reference")
    with Bench(rig, dut_role="evse") as bench:
        seat = fill_seat(bench, "evse", "din", {}, False)
        seat.command("stop_charging")
    assert built == [("evse", "din", False), "stop_charging"]
    monkeypatch.setitem(rig.dut, "kind", "nobody")
    with Bench(rig, dut_role="evse") as bench, pytest.raises(ValueError, match="no DUT seat for \\[dut\\] kind 'nobody'"):
        fill_seat(bench, "evse", "din", {}, False)


def _unanswered_precharge(v2g: V2G, tester_closes_after: float) -> None:
    """Append a PreChargeReq of ours that got no answer and our tester's close `tester_closes_after` s later."""
    from harness.records import Record
    t = v2g.timeline.records[-1].t + 0.1
    ip = v2g.tester_node.ipv6
    v2g.timeline.add(Record(t, "exi", "PreChargeReq", src=ip, dir="to_dut", body={}))
    v2g.timeline.add(Record(t + tester_closes_after, "tcp", "close", src=ip, extra={"conn": 99}))


def test_a_request_our_tester_cut_short_is_no_evidence_of_a_slow_answer():
    """Our car's V2G_EVCC_PreCharge_Timeout can expire 150 ms after its last PreChargeReq (seen with Josev): that
    request is left out; one our tester waited its full 2 s for still fails."""
    with sim("evse") as bench:
        v2g = V2G(bench).start("din")
        v2g.run_to_end()
        _unanswered_precharge(v2g, 0.15)
        assert v2g.cut_short(v2g.exchanges("PreCharge")[-1])
        checked = v2g.assert_answered_in_time(["PreCharge"])
        assert checked and all(e.response is not None for e in checked)
    with sim("evse") as bench:
        v2g = V2G(bench).start("din")
        v2g.run_to_end()
        _unanswered_precharge(v2g, 2.0)
        with pytest.raises(TimelineAssertionError, match="no answer to PreChargeReq within"):
            v2g.assert_answered_in_time(["PreCharge"])
        assert not v2g.cut_short(v2g.exchanges("PreCharge")[-1])
