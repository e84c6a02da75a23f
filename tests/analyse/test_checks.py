"""harness.checks: the rules come from the stack's tables and timers, and the same checks catch faults in a run of
our own stack (the catalogue's use) as in captures (analyse's use)."""

from __future__ import annotations

import pytest

from harness import checks
from harness.assertions import TimelineAssertionError
from harness.records import Record, Timeline
from stack import sdp
from stack.homeplug import timers as slac_timers
from stack.sessions import din70121, iso15118_2
from stack.sessions.faults import fault_set
from tests.sessions.helpers import make_pair

SID = "0102030405060708"


def exi(t, name, body=None, schema="din", conn=1, sid=SID, **extra):
    message = {"V2G_Message": {"Header": {"SessionID": sid}, "Body": {name: body or {}}}}
    return Record(t, "exi", name, "fe80::b" if name.endswith("Req") else "fe80::e",
                  "fe80::e" if name.endswith("Req") else "fe80::b", schema=schema, body=message,
                  extra={"conn": conn, **extra})


def sap(t, name, conn=1):
    body = ({"supportedAppProtocolReq": {"AppProtocol": [{"ProtocolNamespace": din70121.NAMESPACE,
                                                          "VersionNumberMajor": 2, "VersionNumberMinor": 0,
                                                          "SchemaID": 1, "Priority": 1}]}}
            if name.endswith("Req") else {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation",
                                                                       "SchemaID": 1}})
    return Record(t, "exi", name, None, None, schema="apphand", body=body, extra={"conn": conn})


def din_start(t0=0.0):
    return [sap(t0, "supportedAppProtocolReq"), sap(t0 + 0.1, "supportedAppProtocolRes"),
            exi(t0 + 0.2, "SessionSetupReq", {"EVCCID": "0102"}, sid="00"),
            exi(t0 + 0.3, "SessionSetupRes", {"ResponseCode": "OK_NewSessionEstablished", "EVSEID": "00"})]


def test_limits_are_the_stacks_timers():
    assert checks.response_limit(exi(0, "CurrentDemandReq")) is din70121.TABLE.pairs["CurrentDemand"].timeout
    assert checks.response_limit(exi(0, "CurrentDemandReq")).seconds == 0.25
    assert checks.response_limit(exi(0, "PowerDeliveryReq", schema="iso2")) is \
        iso15118_2.TABLE.pairs["PowerDelivery"].timeout
    assert checks.response_limit(exi(0, "PowerDeliveryReq", schema="iso2")).seconds == 5
    assert checks.response_limit(sap(0, "supportedAppProtocolReq")).seconds == 2
    assert checks.response_limit(Record(0, "sdp", "SDP.REQ")) is sdp.SDP_REQ
    assert checks.response_limit(Record(0, "homeplug", "CM_SLAC_PARM.REQ", mmtype=0x6064)) is \
        slac_timers.TT_match_response
    assert checks.response_limit(Record(0, "homeplug", "CM_SET_KEY.REQ", mmtype=0x6008)) is \
        slac_timers.TT_modem_response
    assert checks.response_limit(exi(0, "DC_ChargeLoopReq", schema="iso20_dc")).seconds == 0.5


def test_exchanges_retries_unanswered_and_late():
    records = [Record(0.0, "homeplug", "CM_SLAC_PARM.REQ", "02:00:00:00:00:0b", "ff:ff:ff:ff:ff:ff", mmtype=0x6064),
               Record(0.2, "homeplug", "CM_SLAC_PARM.REQ", "02:00:00:00:00:0b", "ff:ff:ff:ff:ff:ff", mmtype=0x6064),
               Record(0.25, "homeplug", "CM_SLAC_PARM.CNF", "02:00:00:00:00:0e", "02:00:00:00:00:0b", mmtype=0x6065),
               *din_start(1.0),
               exi(2.0, "CurrentDemandReq"), exi(2.4, "CurrentDemandRes", {"ResponseCode": "OK"}),
               exi(3.0, "CurrentDemandReq")]
    found = checks.exchanges(records)
    parm = found[0]
    assert parm.sends == 2 and parm.seconds == pytest.approx(0.05) and parm.ok
    demand = [e for e in found if e.name == "CurrentDemandReq"]
    assert demand[0].late and demand[0].seconds == pytest.approx(0.4) and demand[1].response is None
    (late,) = checks.response_time_findings(records, found)
    assert "400.0 ms after CurrentDemandReq" in late.message and "V2G_EVCC_Msg_Timeout(CurrentDemandReq)" in \
        late.message and late.index == 8


def test_sequence_replay_uses_the_standards_table():
    good = [*din_start(), exi(1, "ServiceDiscoveryReq"), exi(1.1, "ServiceDiscoveryRes", {"ResponseCode": "OK"})]
    assert checks.sequence_findings(good) == []
    skipped = [*din_start(), exi(1, "PreChargeReq")]
    (violation,) = checks.sequence_findings(skipped)
    assert violation.rule == "sequence" and violation.requirement == din70121.AFTER["SessionSetup"].requirement
    assert "PreChargeReq after SessionSetup" in violation.message and violation.index == 4
    wrong_answer = [*din_start(), exi(1, "ServiceDiscoveryReq"), exi(1.1, "SessionSetupRes")]
    assert [f.message for f in checks.sequence_findings(wrong_answer)] == ["SessionSetupRes answers ServiceDiscoveryReq"]
    early = [*din_start(), exi(1, "ServiceDiscoveryReq"), exi(1.1, "ServiceDiscoveryReq")]
    assert checks.sequence_findings(early)[0].requirement == "V2G2-538"
    foreign = [*din_start(), exi(1, "ServiceDiscoveryReq", sid="ffffffffffffffff")]
    (session,) = checks.sequence_findings(foreign)
    assert session.rule == "session-id" and session.requirement == "V2G-DC-391"
    # two connections are replayed separately: the second starts from the handshake again
    two = [*din_start(), *[Record(r.t + 5, r.layer, r.name, r.src, r.dst, schema=r.schema, body=r.body,
                                  extra={"conn": 2}) for r in din_start()]]
    assert checks.sequence_findings(two) == []


def test_runid_echo():
    ev, evse = "00:18:87:00:a1:d6", "dc:0e:a1:11:67:08"
    records = [Record(0, "homeplug", "CM_SLAC_PARM.REQ", ev, "ff:ff:ff:ff:ff:ff", mmtype=0x6064,
                      body={"RunID": "944dc3d0ed5abf0a"}),
               Record(0.1, "homeplug", "CM_SLAC_PARM.CNF", evse, ev, mmtype=0x6065, body={"RunID": "00188700a1d60000"}),
               Record(0.2, "homeplug", "CM_SLAC_PARM.REQ", ev, "ff:ff:ff:ff:ff:ff", mmtype=0x6064,
                      body={"RunID": "944dc3d0ed5abf0a"}),
               Record(0.3, "homeplug", "CM_SLAC_PARM.CNF", evse, ev, mmtype=0x6065, body={"RunID": "944dc3d0ed5abf0a"})]
    (finding,) = checks.slac_findings(records)
    assert finding.requirement == checks.RUNID_ECHO and finding.index == 1
    assert "not the RunID 944dc3d0ed5abf0a" in finding.message and "1 more time" in finding.message
    timeline = Timeline("capture", 0.0)
    for record in records:
        timeline.add(record)
    with pytest.raises(TimelineAssertionError, match="RunID"):
        checks.assert_runid_echoed(timeline)


def _sample(**values):
    base = dict(t=0, request=1, response=2, target_voltage=400.0, target_current=100.0, present_voltage=400.0,
                present_current=100.0, evse_max_current=200.0, evse_max_power=100000.0, evse_max_voltage=500.0,
                ev_max_current=None, ev_max_power=None, ev_max_voltage=None)
    base.update(values)
    return checks.PowerSample(**base)


@pytest.mark.parametrize("values, expected", [
    ({}, ("ev", "ev-target")),
    ({"present_current": 99.0}, ("ev", "ev-target")),  # within the 5 % tolerance
    ({"present_current": 50.0, "evse_max_current": 50.0}, ("evse", "evse-max-current")),
    ({"target_current": 50.0, "present_current": 50.0, "evse_max_current": 50.0, "ev_max_current": 125.0},
     ("evse", "evse-max-current")),  # the EV adapted its target to the charger's maximum
    ({"ev_max_current": 100.0}, ("ev", "ev-max-current")),
    ({"present_current": 50.0, "evse_max_power": 20000.0}, ("evse", "evse-max-power")),
    ({"present_current": 10.0, "flags": ("EVSECurrentLimitAchieved",)}, ("evse", "evse-limit-flag")),
    ({"present_current": 0.0}, ("evse", "evse-regulation")),
    ({"present_current": None, "response": None}, ("unknown", "no-answer")),
])
def test_power_attribution(values, expected):
    assert checks.attribute(_sample(**values)) == expected


# --------------------------------------------------------------------------- the catalogue's use: runs of our stack


def test_a_clean_run_of_our_stack_passes_every_check():
    pair = make_pair("din", pev={"charge_loops": 30})
    pair.run()
    timeline = pair.runner.timeline
    assert checks.assert_response_times(timeline)
    checks.assert_sequence_valid(timeline)
    assert checks.error_findings(timeline.records) == []
    assert not [loop for loop in checks.loops(timeline.records) if not loop.ok]
    verdict = checks.assert_power_limited_by(timeline, "ev")  # our EVSE ramps up, then delivers what our PEV asks
    assert verdict.answered == 30 and verdict.reasons["evse-ramping"] >= 3


def test_an_evse_with_a_lower_maximum_current_limits_the_power():
    pair = make_pair("iso2-dc", evse={"power": {"max_current": 50}}, pev={"charge_loops": 30})
    pair.run()
    verdict = checks.assert_power_limited_by(pair.runner.timeline, "evse")
    assert verdict.reason == "evse-max-current" and "maximum current" in verdict.sentence
    with pytest.raises(TimelineAssertionError, match="expected the EV to limit the current"):
        checks.assert_power_limited_by(pair.runner.timeline, "ev")


@pytest.mark.parametrize("fault, rule", [("evse-slow-current-demand", "unanswered"),  # our PEV gives up at 250 ms
                                         ("evse-accepts-sequence-error", "sequence"),
                                         ("evse-wrong-response", "sequence"),
                                         ("evse-accepts-unknown-session", "session-id")])
def test_faulty_duts_are_caught_by_the_same_checks(fault, rule):
    chosen = fault_set(fault)
    stimulus = {"evse-accepts-sequence-error": "pev-skip-cable-check",
                "evse-accepts-unknown-session": "pev-wrong-session-id"}.get(fault)
    pair = make_pair("iso2-dc", evse=chosen.configure(), pev={"charge_loops": 6}, evse_faults=chosen.faults,
                     pev_faults=fault_set(stimulus).faults if stimulus else (), dut="evse")
    pair.run(seconds=120)
    records = pair.runner.timeline.records
    found = checks.response_time_findings(records) + checks.sequence_findings(records)
    assert rule in {f.rule for f in found}, found
    if rule == "unanswered":
        with pytest.raises(TimelineAssertionError, match="CurrentDemandReq was never answered"):
            checks.assert_response_times(pair.runner.timeline)
