"""ISO 15118-3 SLAC, vehicle under test: what the car sends our charger — CM_SLAC_PARM.REQ, the sounding
(3 × CM_START_ATTEN_CHAR.IND, 10 × CM_MNBC_SOUND.IND), CM_ATTEN_CHAR.RSP, CM_SLAC_MATCH.REQ —, its timing, its
choice among chargers, and joining the network it was given.

Precondition on real rigs: a CCS vehicle plugged in, wanting energy; our charger's adaptor and CP generator on its
cable. The cross-talk test needs the modem emulator (a second charger on another cable).
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from harness.catalogue.link import T_slac
from stack.homeplug import timers as T
from stack.homeplug.faults import SlacFault
from stack.homeplug.frames import BROADCAST
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("pev")

BATCH_JITTER_S = 0.005  # ccs-hil working value: timestamp jitter of a real bench around TP_EV_batch_msg_interval
TP_EV_batch_msg_interval_max = SpecTimer("TP_EV_batch_msg_interval(max)", 0.05, "ISO 15118-3 Table A.1: 20–50 ms")
T_decision = SpecTimer("TT_EV_atten_results+TT_match_response",
                       T.TT_EV_atten_results.seconds + T.TT_match_response.seconds,
                       "ISO 15118-3: the car decides when TT_EV_atten_results ends (+ TT_match_response to send)")
# our charger holds its CM_ATTEN_CHAR.IND back this long: it then arrives ~0.85 s into the car's 1.2 s window
LATE_RESULTS_S = 0.6


def car_parm_req(link):
    return link.expect_frame("CM_SLAC_PARM.REQ", T_slac, what="the car's CM_SLAC_PARM.REQ")


def sounding(link):
    """The car's START_ATTEN_CHAR.IND and MNBC_SOUND.IND frames of its first sounding (same RunID)."""
    first = link.expect_frame("CM_START_ATTEN_CHAR.IND", T_slac, what="the car's CM_START_ATTEN_CHAR.IND")
    link.wait(lambda: bool(link.frames("CM_ATTEN_CHAR.RSP")) or bool(link.frames("CM_SLAC_MATCH.REQ")), T_decision,
              "the car's sounding ends")
    run_id = link.run_id(first)
    frames = [r for r in link.frames(after=first) if r.name in ("CM_START_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND")
              and link.run_id(r) == run_id]
    return [first, *frames], run_id


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-SLAC-EV-01")
@pytest.mark.fails_with("pev-slac-wrong-application-type")
def test_vehicle_slac_parm_req_fields(link):
    """The car broadcasts CM_SLAC_PARM.REQ with APPLICATION_TYPE 0 (PEV-EVSE matching), SECURITY_TYPE 0 and an 8-byte
    RunID that is not all zeros."""
    link.start()
    request = car_parm_req(link)
    run_id = link.run_id(request) or ""
    checks = {"broadcast": (request.dst or "").lower() == BROADCAST,
              "APPLICATION_TYPE 0": link.value(request, "ApplicationType") == 0,
              "SECURITY_TYPE 0": link.value(request, "SecurityType") == 0,
              "RunID 8 bytes, not zero": len(run_id) == 16 and int(run_id or "0", 16) != 0}
    wrong = [name for name, ok in checks.items() if not ok]
    link.check(not wrong, f"CM_SLAC_PARM.REQ: {', '.join(wrong) or 'fields as required'} ({request.body})",
               mark=request)


@pytest.mark.requirement("CCSHIL-SLAC-EV-02")
@pytest.mark.fails_with("pev-slac-sleepy")
def test_vehicle_starts_slac_within_TT_EVSE_SLAC_init_of_5_percent(link):
    """The car sends its first CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init (at least 20 s) of the 5 % PWM, before a
    charger gives up and cycles E/F."""
    limit = SpecTimer("TT_EVSE_SLAC_init(min)", 20.0, "ISO 15118-3 Table A.1: TT_EVSE_SLAC_init 20–50 s")
    link.start()
    link.wait(lambda: any((r.body or {}).get("duty") for r in link.pilot_states(link.started_at)), T_slac,
              "our charger starts the 5 % PWM")
    pwm = next(r for r in link.pilot_states(link.started_at) if (r.body or {}).get("duty"))
    request = link.next_frame("CM_SLAC_PARM.REQ", limit, after=pwm)
    link.check(request is not None, f"the car's CM_SLAC_PARM.REQ within {limit} of the 5 % PWM: "
                                    f"{'none' if request is None else format(request.t - pwm.t, '.2f') + ' s'}",
               mark=request or pwm)


@pytest.mark.parametrize("what", [
    pytest.param("start", id="start-atten-char", marks=[
        pytest.mark.requirement("CCSHIL-SLAC-EV-03"),
        pytest.mark.fails_with("pev-slac-two-start-atten-char", "pev-slac-start-atten-wrong-sounds")]),
    pytest.param("sounds", id="mnbc-sound", marks=[pytest.mark.requirement("CCSHIL-SLAC-EV-04"),
                                                 pytest.mark.fails_with("pev-slac-nine-sounds")]),
])
def test_vehicle_sounding(link, what):
    """The car sounds as the charger asked: 3 CM_START_ATTEN_CHAR.IND (NUM_SOUNDS and Time_Out from CM_SLAC_PARM.CNF,
    itself as FORWARDING_STA), then CM_MNBC_SOUND.IND counting down from NUM_SOUNDS − 1 to 0, all with its RunID."""
    link.start()
    cnf = link.expect_frame("CM_SLAC_PARM.CNF", T_slac, sender="tester", what="our CM_SLAC_PARM.CNF")
    frames, run_id = sounding(link)
    car = (frames[0].src or "").lower()
    starts = [r for r in frames if r.name == "CM_START_ATTEN_CHAR.IND"]
    sounds = [r for r in frames if r.name == "CM_MNBC_SOUND.IND"]
    asked = int(link.value(cnf, "NumberMSounds", T.C_EV_match_MNBC))
    if what == "start":
        wrong = [f"{len(starts)} CM_START_ATTEN_CHAR.IND (expected {T.C_EV_start_atten_char_inds})"] \
            if len(starts) != T.C_EV_start_atten_char_inds else []
        for record in starts:
            if link.value(record, "NumberOfSounds") != asked or link.value(record, "TimeOut") != \
                    link.value(cnf, "TimeOut") or str(link.value(record, "ForwardingSTA")).lower() != car or \
                    link.value(record, "ResponseType") != 1:
                wrong.append(f"#{link.index(record)}: NUM_SOUNDS {link.value(record, 'NumberOfSounds')}, Time_Out "
                             f"{link.value(record, 'TimeOut')}, FORWARDING_STA {link.value(record, 'ForwardingSTA')}")
    else:
        counts = [link.value(r, "Countdown") for r in sounds]
        wrong = [] if counts == list(range(asked - 1, -1, -1)) else \
            [f"countdowns {counts} (expected {asked - 1}…0, {asked} sounds)"]
    link.check(not wrong, f"sounding with RunID {run_id}: {'; '.join(wrong) or 'as asked'}", mark=frames[-1])


@pytest.mark.requirement("CCSHIL-SLAC-EV-05")
@pytest.mark.fails_with("pev-slac-slow-sounds", "pev-slac-fast-sounds")
def test_vehicle_sounding_pace_is_TP_EV_batch_msg_interval(link):
    """The car's sounding frames follow each other TP_EV_batch_msg_interval apart (20–50 ms)."""
    link.start()
    frames, _ = sounding(link)
    gaps = [(b.t - a.t, b) for a, b in pairwise(frames)]
    low = T.TP_EV_batch_msg_interval.seconds - BATCH_JITTER_S
    high = TP_EV_batch_msg_interval_max.seconds + BATCH_JITTER_S
    bad = [(gap, record) for gap, record in gaps if not low <= gap <= high]
    link.check(len(frames) > 1 and not bad,
               f"gaps between the car's sounding frames: {', '.join(f'{g * 1000:.1f} ms' for g, _ in bad[:4]) or 'ok'}"
               f" (expected {T.TP_EV_batch_msg_interval.seconds * 1000:g}–"
               f"{TP_EV_batch_msg_interval_max.seconds * 1000:g} ms ± {BATCH_JITTER_S * 1000:g} ms)",
               mark=bad[0][1] if bad else frames[-1])


@pytest.mark.requirement("CCSHIL-SLAC-EV-06")
@pytest.mark.fails_with("pev-slac-slow-atten-rsp", "pev-slac-atten-rsp-failure")
def test_vehicle_answers_atten_char_within_TT_match_response(link):
    """The car answers our CM_ATTEN_CHAR.IND within TT_match_response with CM_ATTEN_CHAR.RSP: Result 0, itself as
    SOURCE_ADDRESS, its RunID."""
    link.start()
    indication = link.expect_frame("CM_ATTEN_CHAR.IND", T_slac, sender="tester", what="our CM_ATTEN_CHAR.IND")
    response = link.next_frame("CM_ATTEN_CHAR.RSP", T.TT_match_response, after=indication)
    link.check(response is not None, f"CM_ATTEN_CHAR.RSP within {T.TT_match_response} of our CM_ATTEN_CHAR.IND: "
                                     f"{'yes' if response else 'none'}", mark=indication)
    assert response is not None
    checks = {"Result 0": link.value(response, "Result") == 0,
              "SOURCE_ADDRESS is the car": str(link.value(response, "SourceAdress")).lower() == (response.src or "").lower(),
              "RunID": link.run_id(response) == link.run_id(indication)}
    wrong = [name for name, ok in checks.items() if not ok]
    link.check(not wrong, f"CM_ATTEN_CHAR.RSP: {', '.join(wrong) or 'fields as required'} ({response.body})",
               mark=response)


@pytest.mark.requirement("V2G3-A09-31")
@pytest.mark.fails_with("pev-slac-short-atten-window")
def test_vehicle_accepts_atten_char_until_TT_EV_atten_results_ends(link):
    """A CM_ATTEN_CHAR.IND that arrives late but within TT_EV_atten_results (1200 ms) of the car's first
    CM_START_ATTEN_CHAR.IND is accepted: the car answers it and matches with us."""
    link.start(slac_faults=[SlacFault("CM_ATTEN_CHAR.IND", "delay", LATE_RESULTS_S, times=None)])
    start = link.expect_frame("CM_START_ATTEN_CHAR.IND", T_slac, what="the car's CM_START_ATTEN_CHAR.IND")
    indication = link.expect_frame("CM_ATTEN_CHAR.IND", T_slac, sender="tester", after=start,
                                   what="our late CM_ATTEN_CHAR.IND")
    link.check(indication.t - start.t < T.TT_EV_atten_results.seconds,
               f"staging: our CM_ATTEN_CHAR.IND {indication.t - start.t:.3f} s into TT_EV_atten_results",
               mark=indication)
    response = link.next_frame("CM_ATTEN_CHAR.RSP", T.TT_match_response, after=indication)
    request = link.next_frame("CM_SLAC_MATCH.REQ", T_decision, after=indication)
    link.check(response is not None and request is not None and (request.dst or "").lower() == link.tester_mac,
               f"answer to our CM_ATTEN_CHAR.IND {indication.t - start.t:.2f} s after the car's first "
               f"CM_START_ATTEN_CHAR.IND: RSP {'yes' if response else 'none'}, CM_SLAC_MATCH.REQ to us "
               f"{'yes' if request else 'none'}", mark=indication)


@pytest.mark.requirement("V2G3-A09-30")
@pytest.mark.fails_with("pev-slac-long-atten-window")
def test_vehicle_decides_when_TT_EV_atten_results_ends(link):
    """The car's TT_EV_atten_results (1200 ms) runs from its first CM_START_ATTEN_CHAR.IND: its CM_SLAC_MATCH.REQ
    comes no later than that (+ TT_match_response)."""
    link.start()
    start = link.expect_frame("CM_START_ATTEN_CHAR.IND", T_slac, what="the car's CM_START_ATTEN_CHAR.IND")
    request = link.next_frame("CM_SLAC_MATCH.REQ", T_decision, after=start)
    link.check(request is not None, f"CM_SLAC_MATCH.REQ within {T_decision} of the first CM_START_ATTEN_CHAR.IND: "
                                    f"{'none' if request is None else format(request.t - start.t, '.3f') + ' s'}",
               mark=request or start)


@pytest.mark.requirement("CCSHIL-SLAC-EV-07")
@pytest.mark.fails_with("pev-slac-match-wrong-evse-mac")
def test_vehicle_slac_match_req_fields(link):
    """CM_SLAC_MATCH.REQ goes unicast to the chosen charger and names the car (EV MAC = sender), that charger
    (EVSE MAC) and the session's RunID, with MVFLength 62."""
    link.start()
    request = link.expect_frame("CM_SLAC_MATCH.REQ", T_slac, what="the car's CM_SLAC_MATCH.REQ")
    parm = [r for r in link.frames("CM_SLAC_PARM.REQ") if r.t <= request.t][-1]
    checks = {"unicast to us": (request.dst or "").lower() == link.tester_mac,
              "EV MAC is the sender": str(link.value(request, "VariableField.EVMAC")).lower() ==
                                      (request.src or "").lower(),
              "EVSE MAC is us": str(link.value(request, "VariableField.EVSEMAC")).lower() == link.tester_mac,
              "RunID of CM_SLAC_PARM.REQ": link.run_id(request) == link.run_id(parm),
              "MVFLength 62": link.value(request, "MatchVariableFieldLen") == 62}
    wrong = [name for name, ok in checks.items() if not ok]
    link.check(not wrong, f"CM_SLAC_MATCH.REQ: {', '.join(wrong) or 'fields as required'}", mark=request)


@pytest.mark.requirement("CCSHIL-SLAC-EV-08")
@pytest.mark.needs("plc-emulated")
@pytest.mark.fails_with("pev-slac-takes-first-evse")
def test_vehicle_matches_the_charger_with_the_lowest_attenuation(link):
    """With a neighbour charger heard through cross-talk, the car matches the one with the lowest average attenuation
    (ours, on its cable) — also when the neighbour's CM_ATTEN_CHAR.IND arrives first."""
    link.start(slac_faults=[SlacFault("CM_ATTEN_CHAR.IND", "delay", 0.1, times=None)])
    neighbour = link.add_neighbour_evse(attenuation_db=40.0)
    request = link.expect_frame("CM_SLAC_MATCH.REQ", T_slac, sender=None,
                                where=lambda r: (r.src or "").lower() != link.tester_mac and
                                (r.src or "").lower() != neighbour.mac,
                                what="the car's CM_SLAC_MATCH.REQ")
    link.check((request.dst or "").lower() == link.tester_mac,
               f"the car matched {request.dst} (ours {link.tester_mac} at the cable's attenuation, the neighbour "
               f"{neighbour.mac} at 40 dB)", mark=request)


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-SLAC-JOIN-02")
@pytest.mark.fails_with("pev-modem-ignores-set-key")
def test_vehicle_joins_the_network_it_was_given(link):
    """After our CM_SLAC_MATCH.CNF the car joins our network (gives its modem the NMK): its SDP request reaches us over
    it within TT_match_join."""
    link.start()
    cnf = link.expect_frame("CM_SLAC_MATCH.CNF", T_slac, sender="tester", what="our CM_SLAC_MATCH.CNF")
    request = link.next_datagram("SDP.REQ", T.TT_match_join, after=cnf)
    link.check(request is not None, f"the car's SDP request over our network within {T.TT_match_join} of "
                                    f"CM_SLAC_MATCH.CNF: {'yes' if request else 'none'}", mark=cnf)
