"""Reading timelines like a test engineer: sides, exchanges vs limits, CP, power loop, DUT identity, violations."""

from __future__ import annotations

import pytest

from harness.records import Record
from reports import analysis as an


def test_sides_from_dir_and_from_protocol(din_pass):
    with_role = an.Sides.learn(din_pass, "evse")
    res = next(r for r in din_pass if r.name == "SessionSetupRes")
    set_key = next(r for r in din_pass if r.name == "CM_SET_KEY.REQ")
    assert with_role.sender(res) == "evse" and with_role.tester_role == "pev"
    assert with_role.is_local(set_key) and not with_role.is_local(res)
    # a capture: no dir, no role; requests come from the car, and addresses are learnt from them
    stripped = [Record(r.t, r.layer, r.name, r.src, r.dst, mmtype=r.mmtype, schema=r.schema) for r in din_pass]
    sides = an.Sides.learn(stripped)
    assert sides.by_address["fe80::c690:83f3:fbcb:980e"] == "evse"
    assert sides.by_address["04:65:65:00:64:c3"] == "pev"
    tcp_close = next(r for r in stripped if r.name == "close")
    assert sides.sender(tcp_close) == "pev"


def test_mme_names_from_mmtype():
    assert an.mme_name(0x6064) == "CM_SLAC_PARM.REQ"
    assert an.mme_name(0x606F) == "CM_ATTEN_CHAR.RSP"
    assert an.mme_name(0xA14E) == "VS_ATTENUATION_CHARACTERISTICS.IND"
    assert an.mme_name(0x1234) == "MME 0x1234"
    record = Record(0, "homeplug", "MME 0x607d", mmtype=0x607D)
    assert an.message_name(record) == "CM_SLAC_MATCH.CNF"


def test_exchanges_measure_response_times_against_limits(din_pass, din_late):
    ok = an.exchanges(din_pass, an.Sides.learn(din_pass, "evse"))
    names = [e.name for e in ok]
    assert names.count("CurrentDemandReq") == 50 and names.count("PreChargeReq") == 11
    assert "supportedAppProtocolReq" in names and "SDP.REQ" in names and "CM_SLAC_MATCH.REQ" in names
    assert all(e.ok for e in ok), [(e.name, e.seconds) for e in ok if not e.ok]
    parm = next(e for e in ok if e.name == "CM_SLAC_PARM.REQ")
    assert parm.limit.name == "TT_match_response" and parm.seconds == pytest.approx(0.0601, abs=1e-3)  # retry
    demand = next(e for e in ok if e.name == "CurrentDemandReq")
    assert demand.limit.seconds == 0.25 and demand.limit.name == "V2G_EVCC_Msg_Timeout(CurrentDemandReq)"
    assert demand.responder == "evse"
    late = [e for e in an.exchanges(din_late) if not e.ok]
    assert len(late) == 1 and late[0].name == "CurrentDemandReq" and late[0].seconds == pytest.approx(0.4338, 1e-3)
    stats = {s.name: s for s in an.exchange_stats(an.exchanges(din_late))}
    assert stats["CurrentDemandReq"].over_limit == 1 and stats["CurrentDemandReq"].count == 50


def test_record_can_carry_its_own_limit():
    records = [Record(0, "meta", "stream", extra={"clock": "virtual"}),
               Record(1.0, "exi", "FooReq", schema="din", extra={"limit": 0.01, "limit_name": "T_foo"}),
               Record(1.02, "exi", "FooRes", schema="din")]
    (only,) = an.exchanges(records)
    assert only.limit.name == "T_foo" and not only.ok


def test_cp_samples_follow_states_and_pwm(cp_sequence):
    samples = an.cp_samples(cp_sequence)
    states = [s.state for s in samples]
    assert states[0] == "A" and "C" in states and states[-1] == "A"
    pwm_on = [s for s in samples if s.duty == 5.0]
    assert pwm_on and pwm_on[0].t == 0.35 and pwm_on[0].volts == 9.0
    assert samples[-1].duty is None and samples[-1].volts == 12.0
    forced = an.cp_samples([Record(0, "cp", "oscillator", body={"duty": None, "state": "F"})])
    assert forced[0].state == "F" and forced[0].volts == -12.0


def test_power_points_and_who_limits(din_pass):
    points = an.power_points(din_pass)
    phases = {p.phase for p in points}
    assert phases == {"PreCharge", "CurrentDemand"}
    first_target = next(p for p in points if "EVTargetVoltage" in p.values)
    assert first_target.values["EVTargetVoltage"] == pytest.approx(388.1)
    who, why = an.limiting_side(points)
    assert who == "evse" and "EVSECurrentLimitAchieved" in why  # pyPLC delivers 1 A and says it is at its limit


def test_limiting_side_when_evse_follows_the_target():
    def point(phase, **values):
        return an.PowerPoint(0, phase, values)
    points = [point("CurrentDemand", EVTargetCurrent=50.0), point("CurrentDemand", EVSEPresentCurrent=49.8),
              point("CurrentDemand", EVTargetCurrent=60.0),
              point("CurrentDemand", EVSEPresentCurrent=40.0, EVSEMaximumCurrentLimit=40.0)]
    who, _ = an.limiting_side(points[:2])
    assert who == "pev"
    who, why = an.limiting_side(points[2:])
    assert who == "evse" and "maximum" in why
    assert an.limiting_side([]) is None


def test_identify_dut(din_pass):
    info = an.identify_dut(din_pass, "evse")
    assert info.evseid == ["5a5a3030303030"] and info.evccid == []
    assert info.protocols == ["urn:din:70121:2012:MsgDef v2.0"]
    assert info.modem_firmware == ["MAC-QCA7420-1.4.0.20-00-20171027-CS"]
    assert "dc:0e:a1:11:67:08" in info.macs and "04:65:65:00:64:c3" not in info.macs
    car = an.identify_dut(din_pass, "pev")
    assert car.evccid == ["0465650064c3"] and car.evseid == []


def test_violations_and_failure_from_timeline(din_late):
    found = an.violations(din_late)
    (violation,) = [v for v in found if v.kind == "violation"]
    assert din_late[violation.index].name == "CurrentDemandRes"
    assert violation.requirement == "V2G-DC-464"
    requirement, sentence = an.failure_from_timeline(din_late)
    assert requirement == "V2G-DC-464" and sentence.startswith("CurrentDemandRes came 433.8 ms")
    assert an.failure_from_timeline(din_late[:100]) is None


def test_other_violation_forms():
    records = [Record(0, "meta", "stream"),
               Record(1, "exi", "SessionSetupRes", extra={"violation": "V2G2-1"}),
               Record(2, "state", "error", body={"requirement": "V2G2-2", "message": "wrong session id"}),
               Record(3, "v2gtp", "?", error="bad header", raw="00"),
               Record(4, "test", "violation", body={"ref_t": 1.5, "message": "late"})]
    kinds = [(v.index, v.requirement, v.kind) for v in an.violations(records)]
    assert kinds == [(1, "V2G2-1", "violation"), (2, "V2G2-2", "violation"), (3, None, "error"),
                     (1, None, "violation")]


def test_physical_values():
    assert an.physical({"Multiplier": -1, "Unit": "V", "Value": 3881}) == pytest.approx(388.1)
    assert an.physical({"Exponent": 2, "Value": 4}) == 400
    assert an.physical("12.5") == 12.5 and an.physical(True) is None and an.physical({"x": 1}) is None
