"""ISO 15118-3 SLAC, charger under test: how long it waits (TT_EVSE_SLAC_init, TT_EVSE_match_session), its E/F
retry cycle when no car asks (T_step_EF), and a fresh network key for every car.

Precondition on real rigs: a CCS charger, idle; our car's adaptor and CP load on its cable. The E/F tests watch the
pilot for up to a minute.
"""

from __future__ import annotations

import pytest

from harness.bench import T_pilot_settle
from harness.catalogue import T_reaction
from harness.catalogue.link import T_pilot_jitter, T_slac
from stack.homeplug import timers as T
from stack.homeplug.faults import SlacFault
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("evse")

TT_EVSE_SLAC_init_min = SpecTimer("TT_EVSE_SLAC_init(min)", 20.0, "ISO 15118-3 Table A.1: TT_EVSE_SLAC_init 20–50 s")
TT_EVSE_SLAC_init_max = SpecTimer("TT_EVSE_SLAC_init(max)+T_reaction", 50.0 + T_reaction.seconds,
                                  "ISO 15118-3 Table A.1: TT_EVSE_SLAC_init 20–50 s, + T_reaction")
# Our car wakes up this long after the 5 % PWM: 1 s inside the shortest TT_EVSE_SLAC_init a charger may use.
LATE_START_S = TT_EVSE_SLAC_init_min.seconds - 1.0
# The tester car waits this long for CM_ATTEN_CHAR.IND, so its CM_SLAC_MATCH.REQ comes > 8 s after the charger's
# CM_ATTEN_CHAR.RSP, inside TT_EVSE_match_session (10 s).
SLOW_DECISION_S = 9.0
ALL_FIRST_REQUESTS = (1 + T.C_EV_match_retry) * T.C_conn_max_match  # the tester car's first three attempts
SILENT_CAR = [SlacFault("CM_SLAC_PARM.REQ", "drop", times=None)]
# Our car starts its sounding this much later than it would (it starts TT_match_response after its request, so the
# first CM_START_ATTEN_CHAR.IND comes ~350 ms after CM_SLAC_PARM.CNF, inside TT_match_sequence).
LATE_SOUNDING_S = 0.15
T_sound_window = SpecTimer("TT_EVSE_match_MNBC+TT_match_response",
                           T.TT_EVSE_match_MNBC.seconds + T.TT_match_response.seconds,
                           "ISO 15118-3: the sound window (Time_Out × 100 ms), then an answer within TT_match_response")


def pwm_started(link):
    """The first pilot reading with PWM (the charger's 5 %)."""
    link.wait(lambda: any((r.body or {}).get("duty") for r in link.pilot_states(link.started_at)), T_slac,
              "the charger starts PWM")
    found = [r for r in link.pilot_states(link.started_at) if (r.body or {}).get("duty")]
    if not found:
        link.fail(f"the charger started no PWM within {T_slac}")
    return found[0]


def e_or_f(record) -> bool:
    return (record.body or {}).get("state") in ("E", "F")


def first_e_or_f(link, after, limit: SpecTimer):
    link.wait(lambda: any(e_or_f(r) for r in link.pilot_states(link.index(after))), limit, "the charger shows E/F")
    found = [r for r in link.pilot_states(link.index(after)) if e_or_f(r)]
    return found[0] if found else None


@pytest.mark.requirement("CCSHIL-SLAC-SE-09")
@pytest.mark.fails_with("evse-slac-short-match-session")
def test_charger_waits_TT_EVSE_match_session_for_slac_match(link):
    """After CM_ATTEN_CHAR.RSP the charger waits TT_EVSE_match_session (10 s) for CM_SLAC_MATCH.REQ: one that comes
    8–10 s later is still answered within TT_match_response."""
    link.start(tester_slac={"overrides": {"TT_EV_atten_results": SLOW_DECISION_S}})
    response = link.expect_frame("CM_ATTEN_CHAR.RSP", T_slac, sender="tester", what="our CM_ATTEN_CHAR.RSP")
    request = link.expect_frame("CM_SLAC_MATCH.REQ", T.TT_EVSE_match_session, sender="tester", after=response,
                                what="our late CM_SLAC_MATCH.REQ")
    gap = request.t - response.t
    link.check(8.0 <= gap < T.TT_EVSE_match_session.seconds,
               f"staging: our CM_SLAC_MATCH.REQ {gap:.3f} s after CM_ATTEN_CHAR.RSP (8 s ≤ gap < "
               f"{T.TT_EVSE_match_session})", mark=request)
    answer = link.next_frame("CM_SLAC_MATCH.CNF", T.TT_match_response, after=request)
    link.check(answer is not None, f"CM_SLAC_MATCH.CNF {gap:.1f} s into TT_EVSE_match_session, within "
                                   f"{T.TT_match_response}: {'yes' if answer else 'none'}", mark=request)


@pytest.mark.requirement("CCSHIL-SLAC-SE-10")
@pytest.mark.fails_with("evse-slac-short-match-sequence")
def test_charger_waits_TT_match_sequence_for_the_sounding(link):
    """After CM_SLAC_PARM.CNF the charger waits TT_match_sequence (400 ms) for CM_START_ATTEN_CHAR.IND: a car that
    starts sounding 350 ms after the CNF is served (CM_ATTEN_CHAR.IND follows)."""
    link.start(slac_faults=[SlacFault(name, "delay", LATE_SOUNDING_S, times=None)
                            for name in ("CM_START_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND")])
    cnf = link.expect_frame("CM_SLAC_PARM.CNF", T_slac, what="the charger's CM_SLAC_PARM.CNF")
    start = link.expect_frame("CM_START_ATTEN_CHAR.IND", T.TT_match_sequence, sender="tester", after=cnf,
                              what="our late CM_START_ATTEN_CHAR.IND")
    link.check(start.t - cnf.t >= T.TT_match_sequence.seconds - 0.1,
               f"staging: our sounding began {(start.t - cnf.t) * 1000:.0f} ms after CM_SLAC_PARM.CNF", mark=start)
    result = link.next_frame("CM_ATTEN_CHAR.IND", T_sound_window, after=start)
    link.check(result is not None, f"CM_ATTEN_CHAR.IND for a sounding that began {(start.t - cnf.t) * 1000:.0f} ms "
                                   f"after CM_SLAC_PARM.CNF: {'yes' if result else 'none'}", mark=start)


@pytest.mark.requirement("V2G3-M06-07")
@pytest.mark.fails_with("evse-slac-early-ef")
def test_charger_waits_at_least_20s_at_5_percent_for_slac_parm(link):
    """At 5 % the charger waits at least TT_EVSE_SLAC_init (≥ 20 s) for the car: a CM_SLAC_PARM.REQ 19 s after the PWM
    started is answered, with no E/F before it."""
    link.start(slac_faults=[SlacFault("cp:observed", "delay", LATE_START_S, times=None)])
    pwm = pwm_started(link)
    request = link.expect_frame("CM_SLAC_PARM.REQ", T_slac, sender="tester", what="our late CM_SLAC_PARM.REQ")
    link.check(request.t - pwm.t >= LATE_START_S - 0.1,
               f"staging: our CM_SLAC_PARM.REQ {request.t - pwm.t:.2f} s after the PWM started", mark=request)
    early = [r for r in link.pilot_states(link.index(pwm)) if e_or_f(r) and r.t <= request.t]
    link.check(not early, f"pilot before our CM_SLAC_PARM.REQ {request.t - pwm.t:.1f} s after the PWM: "
                          f"{'E/F at ' + format(early[0].t - pwm.t, '.1f') + ' s' if early else 'stayed at 5 %'}",
               mark=early[0] if early else request)
    answer = link.next_frame("CM_SLAC_PARM.CNF", T.TT_match_response, after=request)
    link.check(answer is not None, f"CM_SLAC_PARM.CNF to our late request: {'yes' if answer else 'none'}",
               mark=request)


@pytest.mark.requirement("V2G3-M06-07")
@pytest.mark.fails_with("evse-slac-no-ef-retry", "evse-slac-early-ef")
def test_charger_signals_E_or_F_when_no_car_asks_within_TT_EVSE_SLAC_init(link):
    """When no CM_SLAC_PARM.REQ comes within TT_EVSE_SLAC_init (20–50 s) of the 5 % PWM, the charger signals E or F."""
    link.start(slac_faults=SILENT_CAR)
    pwm = pwm_started(link)
    ef = first_e_or_f(link, pwm, TT_EVSE_SLAC_init_max)
    link.check(ef is not None, f"E/F within {TT_EVSE_SLAC_init_max} of the 5 % PWM without CM_SLAC_PARM.REQ: "
                               f"{'yes' if ef else 'no, still ' + str(link.pilot_at(len(link.timeline)))}", mark=pwm)
    assert ef is not None
    link.check(ef.t - pwm.t >= TT_EVSE_SLAC_init_min.seconds - T_pilot_jitter.seconds,
               f"E/F {ef.t - pwm.t:.2f} s after the 5 % PWM (TT_EVSE_SLAC_init: 20–50 s)", mark=ef)


@pytest.mark.requirement("V2G3-M06-09")
@pytest.mark.fails_with("evse-slac-short-ef")
def test_charger_holds_E_or_F_for_at_least_T_step_EF(link):
    """In its retry cycle the charger holds E/F for at least T_step_EF (4 s) before it returns to the 5 % PWM."""
    link.start(slac_faults=SILENT_CAR)
    pwm = pwm_started(link)
    ef = first_e_or_f(link, pwm, TT_EVSE_SLAC_init_max)
    if ef is None:
        link.fail(f"no E/F within {TT_EVSE_SLAC_init_max} of the 5 % PWM", mark=pwm)
    assert ef is not None
    limit = SpecTimer("T_step_EF+TT_EVSE_SLAC_init", T.T_step_EF.seconds + T.TT_EVSE_SLAC_init.seconds,
                      "ccs-hil: the charger is back at 5 % well before it could give up again")
    link.wait(lambda: any(not e_or_f(r) for r in link.pilot_states(link.index(ef))), limit, "the pilot leaves E/F")
    after = [r for r in link.pilot_states(link.index(ef)) if not e_or_f(r)]
    link.check(after, f"the pilot left E/F within {limit}", mark=ef)
    held = after[0].t - ef.t
    link.check(held >= T.T_step_EF.seconds - T_pilot_jitter.seconds,
               f"E/F held {held:.2f} s (at least {T.T_step_EF}, measured ± {T_pilot_jitter})", mark=after[0])


@pytest.mark.requirement("V2G3-M06-07")
@pytest.mark.fails_with("evse-slac-endless-ef")
@pytest.mark.timeout(600)  # about 3 minutes on a real clock
def test_charger_repeats_its_E_F_cycle_a_limited_number_of_times(link):
    """Without any CM_SLAC_PARM.REQ the charger repeats its E/F → 5 % retry cycle a limited number of times
    (C_sequ_retry, 2), then stops."""
    link.start(slac_faults=SILENT_CAR)
    pwm = pwm_started(link)
    watch = SpecTimer("(C_sequ_retry+1)×(TT_EVSE_SLAC_init+T_step_EF)",
                      (T.C_sequ_retry + 1) * (TT_EVSE_SLAC_init_max.seconds + T.T_step_EF.seconds),
                      "ccs-hil: every allowed cycle, then long enough for one more E/F step to show")
    link.hold(watch, "the charger's retry cycles")
    steps, previous = [], False
    for record in link.pilot_states(link.index(pwm)):
        now = e_or_f(record)
        if now and not previous:
            steps.append(record)
        previous = now
    link.check(1 <= len(steps) <= T.C_sequ_retry,
               f"{len(steps)} E/F steps in {watch} without CM_SLAC_PARM.REQ (expected 1–{T.C_sequ_retry})",
               mark=steps[-1] if steps else pwm)


@pytest.mark.requirement("V2G3-M07-09")
@pytest.mark.fails_with("evse-slac-no-ef-retry")
def test_charger_accepts_a_new_matching_after_its_E_F_cycle(link):
    """After its E/F step the charger is back at 5 % and ready: the car's new CM_SLAC_PARM.REQ is answered and the
    matching completes."""
    link.start(slac_faults=[SlacFault("CM_SLAC_PARM.REQ", "drop", times=ALL_FIRST_REQUESTS)])
    pwm = pwm_started(link)
    ef = first_e_or_f(link, pwm, TT_EVSE_SLAC_init_max)
    if ef is None:
        link.fail(f"no E/F within {TT_EVSE_SLAC_init_max} of the 5 % PWM without CM_SLAC_PARM.REQ", mark=pwm)
    request = link.expect_frame("CM_SLAC_PARM.REQ", T_slac, sender="tester", after=ef,
                                what="our CM_SLAC_PARM.REQ after the E/F step")
    answer = link.next_frame("CM_SLAC_PARM.CNF", T.TT_match_response, after=request)
    link.check(answer is not None, f"CM_SLAC_PARM.CNF after the E/F cycle: {'yes' if answer else 'none'}",
               mark=request)
    link.wait(lambda: bool(link.tester_state("slac_matched", after=request)), T_slac, "the car matches")
    link.check(link.tester_state("slac_matched", after=request), "the matching after the E/F cycle completes",
               mark=request)


@pytest.mark.requirement("V2G3-M09-17")
@pytest.mark.needs("cp-load")
@pytest.mark.fails_with("evse-slac-sticky-key")
def test_charger_hands_out_a_new_key_after_the_car_left(link, cp_load):
    """When the car leaves (unplugged) the charger leaves the network: the next car gets another NMK."""
    link.start()
    first = link.expect_frame("CM_SLAC_MATCH.CNF", T_slac, what="the charger's first CM_SLAC_MATCH.CNF")
    link.wait(lambda: bool(link.tester_state("slac_matched")), T.TT_match_join, "our car joins")
    # our car leaves as a car does: its session ends with the pilot at A (a bare cp_load.set_state("A") would race
    # with the car's own pilot control on a real-clock rig, which moves to C once its session is under way)
    link.command("unplug")
    link.hold(T_pilot_settle, "unplugged")
    link.hold(T_pilot_settle, "unplugged")
    mark = len(link.timeline)
    cp_load.set_state("B")
    link.bench.note("plugged in again")
    second = link.expect_frame("CM_SLAC_MATCH.CNF", T_slac, after=mark, what="the charger's CM_SLAC_MATCH.CNF "
                                                                            "after the car plugged in again")
    old, new = link.value(first, "VariableField.NMK"), link.value(second, "VariableField.NMK")
    link.check(old != new, f"NMK after re-plugging {'differs from' if old != new else 'is the same as'} the "
                           f"previous car's ({new})", mark=second)
