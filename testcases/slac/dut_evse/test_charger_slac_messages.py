"""ISO 15118-3 SLAC, charger under test: what it answers our car — CM_SLAC_PARM.CNF, CM_ATTEN_CHAR.IND,
CM_SLAC_MATCH.CNF — their fields, their RunIDs and how fast they come, and what it must ignore.

Precondition on real rigs: a CCS charger, idle; our car's adaptor on the charger's cable (rig `[plc]`). Tests that
set the line's attenuation need the modem emulator (`plc-emulated`).
"""

from __future__ import annotations

import pytest

from harness.catalogue.link import T_slac
from harness.checks import slac_findings
from stack.homeplug import timers as T
from stack.homeplug.faults import SlacFault
from stack.homeplug.frames import BROADCAST
from stack.homeplug.keys import derive_nid
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("evse")

FOREIGN_RUN_ID = "f0e1d2c3b4a59687"
NUM_GROUPS = 58  # ISO 15118-3 / HomePlug GP attenuation groups (PROTOCOL.md §A.3)
T_sound_window = SpecTimer("TT_EVSE_match_MNBC+TT_match_response",
                           T.TT_EVSE_match_MNBC.seconds + T.TT_match_response.seconds,
                           "ISO 15118-3: the sound window (Time_Out × 100 ms), then an answer within TT_match_response")


def our_parm_req(link, nth: int = 1):
    return link.expect_frame("CM_SLAC_PARM.REQ", T_slac, sender="tester", nth=nth, what="our CM_SLAC_PARM.REQ")


def matched(link) -> bool:
    return bool(link.tester_state("slac_matched"))


# ------------------------------------------------------------------------------------------------ CM_SLAC_PARM


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-SLAC-SE-01")
@pytest.mark.fails_with("evse-slac-slow-parm-cnf")
def test_charger_answers_slac_parm_within_TT_match_response(link):
    """The charger answers the car's CM_SLAC_PARM.REQ with CM_SLAC_PARM.CNF within TT_match_response (200 ms)."""
    link.start()
    request = our_parm_req(link)
    answer = link.next_frame("CM_SLAC_PARM.CNF", T.TT_match_response, after=request)
    link.check(answer is not None and answer.t - request.t <= T.TT_match_response.seconds + 1e-9,
               f"CM_SLAC_PARM.CNF within {T.TT_match_response} of our CM_SLAC_PARM.REQ: "
               f"{'none' if answer is None else f'{(answer.t - request.t) * 1000:.1f} ms'}", mark=answer or request)


@pytest.mark.requirement("CCSHIL-SLAC-RUNID-01")
@pytest.mark.parametrize("answer", [
    pytest.param("CM_SLAC_PARM.CNF", id="parm-cnf", marks=pytest.mark.fails_with("evse-slac-parm-cnf-wrong-runid")),
    pytest.param("CM_ATTEN_CHAR.IND", id="atten-char-ind",
                 marks=pytest.mark.fails_with("evse-slac-atten-char-wrong-runid")),
    pytest.param("CM_SLAC_MATCH.CNF", id="match-cnf", marks=pytest.mark.fails_with("evse-slac-match-cnf-wrong-runid")),
])
def test_charger_answers_carry_the_cars_run_id(link, answer):
    """Every SLAC answer of the charger carries the RunID of the car's CM_SLAC_PARM.REQ."""
    link.start()
    found = link.expect_frame(answer, T_slac, what=f"the charger's {answer}")
    findings = [f for f in slac_findings(link.timeline.records[link.started_at:]) if f.requirement]
    for finding in findings:
        link.fail(finding.message, mark=link.started_at + finding.index)
    request = link.frames("CM_SLAC_PARM.REQ", sender="tester")[-1]
    link.check(link.run_id(found) == link.run_id(request),
               f"{answer} RunID {link.run_id(found)}, our CM_SLAC_PARM.REQ's {link.run_id(request)}", mark=found)


@pytest.mark.parametrize("what", [
    pytest.param("addressing", id="addressing", marks=[pytest.mark.requirement("CCSHIL-SLAC-SE-02"),
                                                     pytest.mark.fails_with("evse-slac-parm-cnf-wrong-sta")]),
    pytest.param("sounding", id="sounding", marks=[pytest.mark.requirement("CCSHIL-SLAC-SE-03"),
                                                 pytest.mark.fails_with("evse-slac-parm-cnf-few-sounds")]),
    pytest.param("types", id="types", marks=[pytest.mark.requirement("CCSHIL-SLAC-SE-04"),
                                           pytest.mark.fails_with("evse-slac-parm-cnf-security-type")]),
])
def test_charger_slac_parm_cnf_fields(link, what):
    """CM_SLAC_PARM.CNF asks for the standard sounding and addresses the car that asked."""
    link.start()
    request = our_parm_req(link)
    cnf = link.expect_frame("CM_SLAC_PARM.CNF", T_slac, after=request)
    fields = {
        "addressing": {"unicast to us": (cnf.dst or "").lower() == link.tester_mac,
                       "M-SOUND_TARGET broadcast": link.value(cnf, "MSoundTargetMAC") == BROADCAST,
                       "RESP_TYPE 1 (other GP station)": link.value(cnf, "ResponseType") == 1,
                       "FORWARDING_STA is our car": str(link.value(cnf, "ForwardingSTA")).lower() == link.tester_mac},
        "sounding": {f"NUM_SOUNDS {T.C_EV_match_MNBC}": link.value(cnf, "NumberMSounds") == T.C_EV_match_MNBC,
                     "Time_Out 6 (TT_EVSE_match_MNBC 600 ms)":
                         link.value(cnf, "TimeOut") == round(T.TT_EVSE_match_MNBC.seconds * 10)},
        "types": {"APPLICATION_TYPE as asked (0)":
                      link.value(cnf, "ApplicationType") == link.value(request, "ApplicationType") == 0,
                  "SECURITY_TYPE as asked (0)":
                      link.value(cnf, "SecurityType") == link.value(request, "SecurityType")},
    }[what]
    wrong = [name for name, ok in fields.items() if not ok]
    link.check(not wrong, f"CM_SLAC_PARM.CNF {what}: {', '.join(wrong) or 'all as required'} "
                          f"({ {k: v for k, v in (cnf.body or {}).items() if k != 'RunID'} })", mark=cnf)


@pytest.mark.requirement("CCSHIL-SLAC-SE-05")
@pytest.mark.fails_with("evse-slac-any-application-type")
def test_charger_ignores_slac_parm_for_another_application(link):
    """A CM_SLAC_PARM.REQ whose APPLICATION_TYPE is not 0 (PEV-EVSE matching) is not answered."""
    link.start(slac_faults=[SlacFault("CM_SLAC_PARM.REQ", "set_field", {"ApplicationType": 1}, times=None)])
    request = our_parm_req(link)
    link.wait(lambda: bool(link.frames("CM_SLAC_PARM.CNF")), T.TT_matching_repetition, "no CM_SLAC_PARM.CNF")
    answers = link.frames("CM_SLAC_PARM.CNF", after=request)
    link.check(not answers, f"{len(answers)} CM_SLAC_PARM.CNF to requests with APPLICATION_TYPE 1 (expected none)",
               mark=answers[0] if answers else request)


@pytest.mark.requirement("V2G3-A09-16")
@pytest.mark.fails_with("evse-slac-ignores-repeated-parm-req")
def test_charger_restarts_the_matching_on_a_new_run_id(link):
    """A new CM_SLAC_PARM.REQ (new RunID) from the car it is matching with restarts the matching with that RunID."""
    link.start(slac_faults=[SlacFault("CM_SLAC_PARM.REQ", "set_field", {"RunID": FOREIGN_RUN_ID})])
    first = our_parm_req(link)
    link.expect_frame("CM_SLAC_PARM.CNF", T.TT_match_response, after=first, what="CM_SLAC_PARM.CNF to the first RunID")
    second = our_parm_req(link, nth=2)
    link.check(link.run_id(second) != link.run_id(first), "our second CM_SLAC_PARM.REQ carries a new RunID")
    answer = link.next_frame("CM_SLAC_PARM.CNF", T.TT_match_response, after=second)
    link.check(answer is not None and link.run_id(answer) == link.run_id(second),
               f"answer to the CM_SLAC_PARM.REQ with the new RunID {link.run_id(second)} within "
               f"{T.TT_match_response}: {'none' if answer is None else link.run_id(answer)}", mark=answer or second)
    link.wait(lambda: matched(link), T_slac, "the car matches")
    link.check(matched(link) and link.run_id(link.frames("CM_SLAC_MATCH.CNF")[-1]) == link.run_id(second),
               "the matching completes with the new RunID", mark=len(link.timeline) - 1)


# ------------------------------------------------------------------------------------------------ CM_ATTEN_CHAR


@pytest.mark.requirement("V2G3-A09-31")
@pytest.mark.fails_with("evse-slac-late-atten-char")
def test_charger_delivers_atten_char_within_TT_EV_atten_results(link):
    """The charger's CM_ATTEN_CHAR.IND reaches the car within TT_EV_atten_results (1200 ms) of its first
    CM_START_ATTEN_CHAR.IND."""
    link.start()
    start = link.expect_frame("CM_START_ATTEN_CHAR.IND", T_slac, sender="tester", what="our CM_START_ATTEN_CHAR.IND")
    result = link.next_frame("CM_ATTEN_CHAR.IND", T.TT_EV_atten_results, after=start)
    link.check(result is not None, f"CM_ATTEN_CHAR.IND within {T.TT_EV_atten_results} of our first "
                                   f"CM_START_ATTEN_CHAR.IND: {'none' if result is None else 'yes'}", mark=start)


@pytest.mark.requirement("CCSHIL-SLAC-SE-06")
@pytest.mark.fails_with("evse-slac-atten-char-no-groups", "evse-slac-atten-char-wrong-source")
def test_charger_atten_char_ind_fields(link):
    """CM_ATTEN_CHAR.IND names our car as SOURCE_ADDRESS, counts at most the sounds we sent (at least one) and carries
    58 attenuation groups."""
    link.start()
    result = link.expect_frame("CM_ATTEN_CHAR.IND", T_slac, what="the charger's CM_ATTEN_CHAR.IND")
    sounds = len([r for r in link.frames("CM_MNBC_SOUND.IND", sender="tester") if r.t <= result.t])
    groups = link.value(result, "Groups") or []
    checks = {"SOURCE_ADDRESS is our car": str(link.value(result, "SourceAdress")).lower() == link.tester_mac,
              f"1 ≤ NUM_SOUNDS ≤ {sounds} (sounds we sent)": 1 <= int(link.value(result, "NumberOfSounds", 0)) <= sounds,
              f"{NUM_GROUPS} groups": link.value(result, "NumberOfGroups") == NUM_GROUPS and len(groups) == NUM_GROUPS,
              "unicast to us": (result.dst or "").lower() == link.tester_mac}
    wrong = [name for name, ok in checks.items() if not ok]
    link.check(not wrong, f"CM_ATTEN_CHAR.IND: {', '.join(wrong) or 'fields as required'} "
                          f"(SOURCE_ADDRESS {link.value(result, 'SourceAdress')}, NUM_SOUNDS "
                          f"{link.value(result, 'NumberOfSounds')}, {len(groups)} groups)", mark=result)


@pytest.mark.requirement("V2G3-A09-19")
@pytest.mark.needs("plc-emulated")
@pytest.mark.fails_with("evse-slac-synthetic-attenuation")
def test_charger_reports_the_attenuation_its_modem_measured(link):
    """CM_ATTEN_CHAR.IND reports per group the average attenuation the charger's modem measured for our sounds
    (±1 dB), so a car can tell its own charger from a neighbour's."""
    profile = [14 + (i % 9) for i in range(NUM_GROUPS)]
    link.start()
    link.set_cable_attenuation(profile)
    result = link.expect_frame("CM_ATTEN_CHAR.IND", T_slac, what="the charger's CM_ATTEN_CHAR.IND")
    groups = [int(g) for g in link.value(result, "Groups") or []]
    off = [(i, g, p) for i, (g, p) in enumerate(zip(groups, profile, strict=False)) if abs(g - p) > 1]
    link.check(len(groups) == NUM_GROUPS and not off,
               f"CM_ATTEN_CHAR.IND groups vs. the line ({len(groups)} groups): "
               f"{'; '.join(f'group {i}: {g} dB, line {p} dB' for i, g, p in off[:5]) or 'within 1 dB'}",
               mark=result)


@pytest.mark.requirement("CCSHIL-SLAC-SE-07")
@pytest.mark.fails_with("evse-slac-waits-for-all-sounds")
def test_charger_closes_the_sound_window_after_TT_EVSE_match_MNBC(link):
    """When sounds go missing the charger still sends CM_ATTEN_CHAR.IND when its sound window (Time_Out × 100 ms,
    TT_EVSE_match_MNBC) has passed, counting only the sounds it got."""
    link.start(slac_faults=[SlacFault("CM_MNBC_SOUND.IND", "drop", nth=7, times=4)])
    start = link.expect_frame("CM_START_ATTEN_CHAR.IND", T_slac, sender="tester", what="our CM_START_ATTEN_CHAR.IND")
    result = link.next_frame("CM_ATTEN_CHAR.IND", T_sound_window, after=start)
    sent = len([r for r in link.frames("CM_MNBC_SOUND.IND", sender="tester") if r.t >= start.t])
    link.check(result is not None, f"CM_ATTEN_CHAR.IND within {T_sound_window} of our first CM_START_ATTEN_CHAR.IND "
                                   f"with {sent} of {T.C_EV_match_MNBC} sounds sent: "
                                   f"{'none' if result is None else 'yes'}", mark=start)
    assert result is not None
    counted = int(link.value(result, "NumberOfSounds", 0))
    link.check(1 <= counted <= sent, f"CM_ATTEN_CHAR.IND NUM_SOUNDS {counted}, we sent {sent}", mark=result)


@pytest.mark.requirement("V2G3-A09-47")
@pytest.mark.fails_with("evse-slac-aborts-on-malformed")
def test_charger_ignores_a_malformed_atten_char_rsp(link):
    """A malformed CM_ATTEN_CHAR.RSP is ignored, not fatal: the charger keeps the matching going (it repeats its
    CM_ATTEN_CHAR.IND) and it completes."""
    link.start(slac_faults=[SlacFault("CM_ATTEN_CHAR.RSP", "truncate", 22)])
    bad = link.expect_frame("CM_ATTEN_CHAR.RSP", T_slac, sender="tester", what="our (cut) CM_ATTEN_CHAR.RSP")
    run_id = link.run_id(link.frames("CM_ATTEN_CHAR.IND")[-1])
    cnf = link.next_frame("CM_SLAC_MATCH.CNF", T.TT_matching_repetition, after=bad,
                          where=lambda r: link.run_id(r) == run_id)
    link.check(cnf is not None, f"the matching (RunID {run_id}) after our malformed CM_ATTEN_CHAR.RSP: "
                                f"{'completed' if cnf else 'no CM_SLAC_MATCH.CNF for it'}", mark=cnf or bad)


# ------------------------------------------------------------------------------------------------ CM_SLAC_MATCH


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-SLAC-SE-08")
@pytest.mark.fails_with("evse-slac-slow-match-cnf", "evse-slac-match-cnf-nid-mismatch")
def test_charger_answers_slac_match_with_its_network(link):
    """The charger answers CM_SLAC_MATCH.REQ within TT_match_response with CM_SLAC_MATCH.CNF naming our car and
    itself, and a NID that belongs to the NMK it hands out."""
    link.start()
    request = link.expect_frame("CM_SLAC_MATCH.REQ", T_slac, sender="tester", what="our CM_SLAC_MATCH.REQ")
    cnf = link.next_frame("CM_SLAC_MATCH.CNF", T.TT_match_response, after=request)
    link.check(cnf is not None, f"CM_SLAC_MATCH.CNF within {T.TT_match_response} of our CM_SLAC_MATCH.REQ: "
                                f"{'none' if cnf is None else 'yes'}", mark=request)
    assert cnf is not None
    nmk = bytes.fromhex(str(link.value(cnf, "VariableField.NMK", "")))
    checks = {"EV MAC is our car": str(link.value(cnf, "VariableField.EVMAC")).lower() == link.tester_mac,
              "EVSE MAC is the sender": str(link.value(cnf, "VariableField.EVSEMAC")).lower() == (cnf.src or "").lower(),
              "MVFLength 86": link.value(cnf, "MatchVariableFieldLen") == 86,
              "NID derived from the NMK": len(nmk) == 16 and
                  str(link.value(cnf, "VariableField.NetworkID")).lower() == derive_nid(nmk).hex()}
    wrong = [name for name, ok in checks.items() if not ok]
    link.check(not wrong, f"CM_SLAC_MATCH.CNF: {', '.join(wrong) or 'fields as required'}", mark=cnf)


@pytest.mark.requirement("CCSHIL-SLAC-JOIN-01")
@pytest.mark.fails_with("evse-slac-match-wrong-nmk", "evse-modem-ignores-set-key")
def test_charger_network_is_reachable_with_the_key_it_hands_out(link):
    """After CM_SLAC_MATCH.CNF our modem, given the NMK the charger handed out, reaches the charger's network within
    TT_match_join, and the charger answers SDP over it."""
    link.start()
    cnf = link.expect_frame("CM_SLAC_MATCH.CNF", T_slac, what="the charger's CM_SLAC_MATCH.CNF")
    link.wait(lambda: matched(link), T.TT_match_join, "our modem joins the charger's network")
    joined = link.tester_state("slac_matched", after=cnf)
    link.check(joined, f"our modem in the charger's network within {T.TT_match_join} of CM_SLAC_MATCH.CNF: "
                       f"{'yes' if joined else 'no link'}", mark=cnf)
    answer = link.next_datagram("SDP.RES", T.TT_match_join, after=joined[0])
    link.check(answer is not None, f"SDP answered over the new network: {'yes' if answer else 'no'}",
               mark=joined[0])


# ------------------------------------------------------------------------------------------------ foreign RunIDs


@pytest.mark.requirement("CCSHIL-SLAC-RUNID-02")
@pytest.mark.fails_with("evse-slac-accepts-foreign-runid")
def test_charger_ignores_sounds_with_a_foreign_run_id(link):
    """CM_START_ATTEN_CHAR.IND and CM_MNBC_SOUND.IND whose RunID is not the session's are ignored: no
    CM_ATTEN_CHAR.IND follows them."""
    link.start(slac_faults=[SlacFault("CM_START_ATTEN_CHAR.IND", "set_field", {"RunID": FOREIGN_RUN_ID}, times=None),
                            SlacFault("CM_MNBC_SOUND.IND", "set_field", {"RunID": FOREIGN_RUN_ID}, times=None)])
    link.expect_frame("CM_START_ATTEN_CHAR.IND", T_slac, sender="tester", what="our (foreign-RunID) sounding")
    link.wait(lambda: bool(link.frames("CM_ATTEN_CHAR.IND")), T.TT_matching_repetition, "no CM_ATTEN_CHAR.IND")
    answers = link.frames("CM_ATTEN_CHAR.IND")
    link.check(not answers, f"{len(answers)} CM_ATTEN_CHAR.IND to sounds that carried RunID {FOREIGN_RUN_ID}, not "
                            "the session's (expected none)", mark=answers[0] if answers else None)


@pytest.mark.requirement("V2G3-A09-98")
@pytest.mark.fails_with("evse-slac-accepts-foreign-runid")
def test_charger_ignores_slac_match_with_a_foreign_run_id(link):
    """A CM_SLAC_MATCH.REQ whose RunID is not the session's is ignored: no CM_SLAC_MATCH.CNF answers it."""
    link.start(slac_faults=[SlacFault("CM_SLAC_MATCH.REQ", "set_field", {"VariableField.RunID": FOREIGN_RUN_ID},
                                      times=None)])
    request = link.expect_frame("CM_SLAC_MATCH.REQ", T_slac, sender="tester", what="our (foreign-RunID) MATCH.REQ")
    link.wait(lambda: bool(link.frames("CM_SLAC_MATCH.CNF")), T.TT_matching_repetition, "no CM_SLAC_MATCH.CNF")
    answers = link.frames("CM_SLAC_MATCH.CNF", after=request)
    link.check(not answers, f"{len(answers)} CM_SLAC_MATCH.CNF to requests with RunID {FOREIGN_RUN_ID} (expected none)",
               mark=answers[0] if answers else request)
