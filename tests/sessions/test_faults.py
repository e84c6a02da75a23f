"""Fault injection: every action on a stub machine, and every named fault set caught by our tester in the other
role (so each catalogue test built on a set can fail)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from stack import sansio as io
from stack.sessions.events import CloseConnection, SendMessage
from stack.sessions.fault_sets import TESTER_CAUGHT
from stack.sessions.faults import ACTIONS, FAULT_SETS, Fault, FaultInjector, fault_set
from stack.sessions.messages import body_of, name_of, v2g
from tests.sessions.helpers import ended, exi, findings, make_pair


class Stub:
    """Sends whatever `Command("send", {"name": ..})` names; `state` is settable."""

    def __init__(self):
        self.state, self.deadline = "Start", None

    def next_deadline(self):
        return self.deadline

    def handle(self, event, now):
        if isinstance(event, io.Command) and event.name == "send":
            name = event.args["name"]
            if name.startswith("supported"):
                return [SendMessage({name: {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 1}}, "apphand")]
            body = {"ResponseCode": "OK", **event.args.get("body", {})}
            return [SendMessage(v2g("0102030405060708", name, body), event.args.get("schema", "din"))]
        if isinstance(event, io.Command) and event.name == "close":
            return [CloseConnection("bye"), io.Notify("state", "x")]
        return []


def send(injector, name, now=0.0, **kw):
    return injector.handle(io.Command("send", {"name": name, **kw}), now)


def messages(outputs):
    return [o for o in outputs if isinstance(o, SendMessage)]


def test_drop_duplicate_and_counting():
    injector = FaultInjector(Stub(), [Fault("CableCheckRes", "drop", nth=2, times=2),
                                      Fault("PreChargeRes", "duplicate", 3)])
    assert [len(messages(send(injector, "CableCheckRes"))) for _ in range(5)] == [1, 0, 0, 1, 1]
    assert len(messages(send(injector, "PreChargeRes"))) == 3
    assert len(messages(send(injector, "PreChargeRes"))) == 1  # times=1 by default
    assert injector.fired == [("CableCheckRes", "drop")] * 2 + [("PreChargeRes", "duplicate")]


def test_delay_holds_the_message_and_keeps_order():
    injector = FaultInjector(Stub(), [Fault("SessionSetupRes", "delay", 0.3)])
    out = send(injector, "SessionSetupRes", now=1.0)
    assert not messages(out) and injector.next_deadline() == pytest.approx(1.3)
    assert messages(send(injector, "ServiceDiscoveryRes", now=1.1)) == []  # queued behind the delayed one
    released = injector.handle(io.Tick(), 1.3)
    assert [name_of(m.message) for m in messages(released)] == ["SessionSetupRes", "ServiceDiscoveryRes"]
    assert injector.next_deadline() is None


def test_response_code_set_field_and_where():
    injector = FaultInjector(Stub(), [
        Fault("*Res", "response_code", "FAILED", where={"EVSEProcessing": "Finished"}),
        Fault("PreChargeRes", "set_field", {"Header.SessionID": "00", "EVSEPresentVoltage.Value": 7,
                                            "ResponseCode": None}),
        Fault("supportedAppProtocolRes", "response_code", "Failed_NoNegotiation"),
    ])
    first = messages(send(injector, "CableCheckRes", body={"EVSEProcessing": "Ongoing"}))[0]
    assert body_of(first.message)["ResponseCode"] == "OK"
    second = messages(send(injector, "CableCheckRes", body={"EVSEProcessing": "Finished"}))[0]
    assert body_of(second.message)["ResponseCode"] == "FAILED"
    changed = messages(send(injector, "PreChargeRes"))[0].message
    assert changed["V2G_Message"]["Header"]["SessionID"] == "00"
    assert body_of(changed) == {"EVSEPresentVoltage": {"Value": 7}}
    sap = messages(send(injector, "supportedAppProtocolRes"))[0].message
    assert sap["supportedAppProtocolRes"]["ResponseCode"] == "Failed_NoNegotiation"


def test_out_of_sequence_sends_a_valid_template_with_the_same_header():
    from stack import exi

    injector = FaultInjector(Stub(), [Fault("CableCheckReq", "out_of_sequence", "PreChargeReq")])
    swapped = messages(send(injector, "CableCheckReq"))[0]
    assert name_of(swapped.message) == "PreChargeReq"
    assert swapped.message["V2G_Message"]["Header"]["SessionID"] == "0102030405060708"
    assert exi.decode("din", exi.encode("din", swapped.message)) == swapped.message


def test_close_and_silence():
    injector = FaultInjector(Stub(), [Fault("WeldingDetectionRes", "close")])
    out = send(injector, "WeldingDetectionRes")
    assert not messages(out) and isinstance(out[-1], CloseConnection)
    silent = FaultInjector(Stub(), [Fault("SessionStopRes", "silence")])
    assert messages(send(silent, "CurrentDemandRes"))
    assert not messages(send(silent, "SessionStopRes"))
    assert not messages(send(silent, "CurrentDemandRes"))
    out = silent.handle(io.Command("close"), 0)
    assert [type(o).__name__ for o in out] == ["Notify"]  # no CloseConnection either, Notify still passes


def test_state_and_schema_conditions():
    stub = Stub()
    injector = FaultInjector(stub, [Fault("state:PreCharge", "drop", times=None),
                                    Fault("*", "duplicate", schema="iso2", times=None)])
    assert len(messages(send(injector, "X1Res"))) == 1
    stub.state = "PreCharge"
    assert messages(send(injector, "X2Res")) == []
    stub.state = "PreCharge.Something"
    assert messages(send(injector, "X3Res")) == []
    stub.state = "CurrentDemand"
    assert len(messages(send(injector, "X4Res", schema="iso2"))) == 2


def test_sdp_datagram_faults():
    injector = FaultInjector(None, [Fault("SDP.RES", "set_field", {"port": 1}), Fault("SDP.RES", "delay", 0.5),
                                    Fault("SDP.REQ", "duplicate", 2)])
    copies, delay = injector.filter_datagram("SDP.RES", {"ip": "fe80::1", "port": 50000, "security": 16,
                                                         "transport": 0}, 0)
    assert copies == [{"ip": "fe80::1", "port": 1, "security": 16, "transport": 0}] and delay == 0.5
    copies, _ = injector.filter_datagram("SDP.REQ", {"security": 16, "transport": 0}, 0)
    assert len(copies) == 2


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"when": "x", "action": "explode"}, "fault action 'explode'"),
    ({"when": "x", "action": "delay"}, "value=<seconds>"),
    ({"when": "x", "action": "set_field", "value": 3}, "value={path: value}"),
    ({"when": "x", "action": "out_of_sequence"}, "value=<name>"),
    ({"when": "x", "action": "drop", "nth": 0}, "nth counts from 1"),
])
def test_bad_fault_definitions_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Fault.from_dict(kwargs)


def test_every_action_is_used_by_some_named_set():
    used = {f.action for s in FAULT_SETS.values() for f in s.faults}
    assert used >= set(ACTIONS) - {"silence"} | {"silence"} & used
    assert set(ACTIONS) <= used | {"close", "drop"}


def test_named_sets_are_well_formed():
    known = known_requirements()
    for name, chosen in FAULT_SETS.items():
        assert chosen.name == name and chosen.role in ("evse", "pev") and chosen.description
        assert chosen.faults or chosen.config
        req = chosen.requirement
        assert req.startswith(("V2G", "ccs-hil:", "CCSHIL-")), req
        if known and req.startswith(("V2G", "CCSHIL-")) and not req.startswith(("V2G_", "V2G2-6")):
            assert req in known, f"{name}: {req} not in requirements.csv"
    with pytest.raises(KeyError, match="unknown fault set 'nope'"):
        fault_set("nope")


def known_requirements() -> set[str]:
    """Requirement IDs of the catalogue's requirements.csv (the public IDs, merged with our own)."""
    path = Path(__file__).resolve().parents[2] / "testcases" / "requirements.csv"
    if not path.exists():
        return set()
    with open(path, encoding="utf-8") as handle:
        return {row["id"] for row in csv.DictReader(handle)}


# --------------------------------------------------------------------------- every set is caught

PROTOCOL = {"evse-slow-charging-status": "iso2-ac", "evse-failed-authorization": "din"}
STIMULUS = {"evse-accepts-sequence-error": "pev-skip-cable-check",
            "evse-accepts-unknown-session": "pev-wrong-session-id"}


def run_faulty(name):
    chosen = fault_set(name)
    protocol = PROTOCOL.get(name, "iso2-dc")
    evse, pev, evse_faults, pev_faults = {}, {"charge_loops": 6}, (), ()
    if chosen.role == "evse":
        evse, evse_faults = chosen.configure(), chosen.faults
        if name in STIMULUS:
            pev_faults = fault_set(STIMULUS[name]).faults
    else:
        pev, pev_faults = chosen.configure(pev), chosen.faults
    pair = make_pair(protocol, evse=evse, pev={**pev, "sdp_max_requests": 8}, evse_faults=evse_faults,
                     pev_faults=pev_faults, dut=chosen.role)
    pair.run(until=lambda: pair.pev.done and (ended(pair, "evse") is not None or not exi(pair)), seconds=300)
    return pair


def caught(pair, name) -> str:
    """What our tester saw; empty when the faulty DUT went unnoticed."""
    chosen = fault_set(name)
    if chosen.role == "evse":  # our PEV is the tester
        if name in STIMULUS:
            codes = [body_of(r.body).get("ResponseCode") for r in exi(pair) if r.dir == "from_dut"]
            return "OK where FAILED was due" if codes and codes[-1] == "OK" else ""
        if not pair.pev.result.ok:
            return pair.pev.result.reason
        warnings = pair.state("warning")
        return warnings[0].body["warning"] if warnings else ""
    # our EVSE is the tester
    evse_findings = findings(pair, "evse")
    if evse_findings:
        return evse_findings[0].body["error"]
    end = ended(pair, "evse")
    if end is not None and not end.body["ok"]:
        return end.body["reason"]
    requests = pair.runner.timeline.select(name="SDP.REQ", layer="sdp")
    if not requests:
        return "no SDP request"
    if any(r.body["transport"] != "TCP" for r in requests):
        return "SDP request for UDP"
    return ""


@pytest.mark.parametrize("name", sorted(TESTER_CAUGHT))
def test_each_named_fault_set_is_caught_by_our_tester(name):
    assert caught(run_faulty(name), name), f"{name} went unnoticed"


def test_clean_runs_are_not_caught():
    for protocol in ("iso2-dc", "iso2-ac", "din"):
        pair = make_pair(protocol, pev={"charge_loops": 6})
        pair.run()
        assert pair.pev.result.ok and not findings(pair) and not pair.state("warning")
