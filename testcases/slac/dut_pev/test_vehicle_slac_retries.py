"""ISO 15118-3 SLAC, vehicle under test: retries when the charger does not answer (C_EV_match_retry,
TT_matching_rate, TT_matching_repetition), answers it must ignore (foreign RunIDs), and matching again after the
charger's E/F retry cycle.

Precondition on real rigs: a CCS vehicle plugged in, wanting energy; our charger's adaptor and CP generator on its
cable. Our charger plays deaf on purpose here, so each test takes up to a minute.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from harness.catalogue.link import T_slac
from stack.homeplug import timers as T
from stack.homeplug.faults import RANDOM, SlacFault
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("pev")

RETRY_JITTER_S = 0.005  # ccs-hil working value: timestamp jitter of a real bench
DEAF_CHARGER = [SlacFault("in:CM_SLAC_PARM.REQ", "drop", times=None)]
T_watch_retries = SpecTimer("TT_matching_repetition+5s", T.TT_matching_repetition.seconds + 5.0,
                            "ccs-hil: long enough to see every attempt a car may start within TT_matching_repetition")


def requests_by_run_id(link) -> dict[str, list]:
    """The car's CM_SLAC_PARM.REQ frames grouped by RunID (one group per matching attempt), in order."""
    out: dict[str, list] = {}
    for record in link.frames("CM_SLAC_PARM.REQ"):
        out.setdefault(link.run_id(record) or "", []).append(record)
    return out


def watch_a_deaf_charger(link) -> dict[str, list]:
    link.start(slac_faults=DEAF_CHARGER)
    link.expect_frame("CM_SLAC_PARM.REQ", T_slac, what="the car's CM_SLAC_PARM.REQ")
    link.hold(T_watch_retries, "the car retries against a charger that does not answer")
    return requests_by_run_id(link)


@pytest.mark.requirement("CCSHIL-SLAC-EV-09")
@pytest.mark.fails_with("pev-slac-parm-retry-flood", "pev-slac-too-many-retries")
def test_vehicle_repeats_an_unanswered_slac_parm_req_as_allowed(link):
    """An unanswered CM_SLAC_PARM.REQ is repeated with the same RunID no sooner than TT_match_response and at most
    C_EV_match_retry (2) times."""
    attempts = watch_a_deaf_charger(link)
    for run_id, sends in attempts.items():
        link.check(len(sends) <= 1 + T.C_EV_match_retry,
                   f"RunID {run_id}: {len(sends)} CM_SLAC_PARM.REQ (at most 1 + C_EV_match_retry = "
                   f"{1 + T.C_EV_match_retry})", mark=sends[-1])
        for before, after in pairwise(sends):
            link.check(after.t - before.t >= T.TT_match_response.seconds - RETRY_JITTER_S,
                       f"RunID {run_id}: repeated {(after.t - before.t) * 1000:.1f} ms after the previous request "
                       f"(no sooner than {T.TT_match_response})", mark=after)


@pytest.mark.requirement("V2G3-A09-124")
@pytest.mark.fails_with("pev-slac-no-matching-pause")
def test_vehicle_pauses_TT_matching_rate_before_a_new_attempt(link):
    """After a failed matching attempt the car waits TT_matching_rate (400 ms) before it starts the next one."""
    attempts = list(watch_a_deaf_charger(link).values())
    link.check(len(attempts) >= 2, f"{len(attempts)} matching attempt(s) seen; a car retries after a failed one")
    for previous, following in pairwise(attempts):
        failed_at = previous[-1].t + T.TT_match_response.seconds  # the last request went unanswered
        pause = following[0].t - failed_at
        link.check(pause >= T.TT_matching_rate.seconds - RETRY_JITTER_S,
                   f"new attempt {pause * 1000:.0f} ms after the previous one failed (TT_matching_rate "
                   f"{T.TT_matching_rate.seconds * 1000:g} ms)", mark=following[0])


@pytest.mark.requirement("V2G3-A09-125")
@pytest.mark.fails_with("pev-slac-endless-retries")
def test_vehicle_stops_matching_after_TT_matching_repetition(link):
    """A car whose attempts all fail starts no new attempt later than TT_matching_repetition (10 s) after the first."""
    attempts = list(watch_a_deaf_charger(link).values())
    first = attempts[0][0]
    late = [sends[0] for sends in attempts if sends[0].t - first.t > T.TT_matching_repetition.seconds]
    link.check(not late, f"{len(attempts)} attempts; "
                         f"{'one began ' + format(late[0].t - first.t, '.1f') + ' s' if late else 'none began later'}"
                         f" after the first (TT_matching_repetition {T.TT_matching_repetition})",
               mark=late[0] if late else None)


@pytest.mark.requirement("CCSHIL-SLAC-EV-10")
@pytest.mark.fails_with("pev-slac-no-match-retry")
def test_vehicle_repeats_an_unanswered_slac_match_req(link):
    """An unanswered CM_SLAC_MATCH.REQ is repeated with the same RunID after TT_match_response."""
    link.start(slac_faults=[SlacFault("in:CM_SLAC_MATCH.REQ", "drop")])
    first = link.expect_frame("CM_SLAC_MATCH.REQ", T_slac, what="the car's CM_SLAC_MATCH.REQ")
    again = link.next_frame("CM_SLAC_MATCH.REQ", T.TT_matching_repetition, after=first)
    link.check(again is not None and link.run_id(again) == link.run_id(first),
               f"after our silence the car's next CM_SLAC_MATCH.REQ: "
               f"{'none' if again is None else 'RunID ' + str(link.run_id(again))} (expected a repeat with RunID "
               f"{link.run_id(first)})", mark=again or first)
    assert again is not None
    gap = again.t - first.t
    link.check(T.TT_match_response.seconds - RETRY_JITTER_S <= gap <= T.TT_match_response.seconds * 2,
               f"repeated {gap * 1000:.0f} ms after the first (TT_match_response {T.TT_match_response})", mark=again)


@pytest.mark.requirement("CCSHIL-SLAC-RUNID-03")
@pytest.mark.parametrize("answer, then", [
    pytest.param("CM_SLAC_PARM.CNF", "CM_START_ATTEN_CHAR.IND", id="parm-cnf"),
    pytest.param("CM_ATTEN_CHAR.IND", "CM_ATTEN_CHAR.RSP", id="atten-char-ind"),
])
@pytest.mark.fails_with("pev-slac-accepts-foreign-runid")
def test_vehicle_ignores_answers_with_a_foreign_run_id(link, answer, then):
    """A charger answer whose RunID is not the car's is ignored: the car does not go on to the next step with it."""
    link.start(slac_faults=[SlacFault(answer, "set_field", {"RunID": RANDOM}, times=None)])
    sent = link.expect_frame(answer, T_slac, sender="tester", what=f"our {answer} with a foreign RunID")
    link.hold(T.TT_EV_atten_results, f"the car ignores our {answer}")
    followed = link.frames(then, after=sent)
    link.check(not followed,
               f"the car's {then} after our {answer} with RunID {link.run_id(sent)}: "
               f"{len(followed)} (expected none)", mark=followed[0] if followed else sent)


@pytest.mark.requirement("V2G3-A09-98")
@pytest.mark.fails_with("pev-slac-accepts-foreign-runid")
def test_vehicle_ignores_slac_match_cnf_with_a_foreign_run_id(link):
    """A CM_SLAC_MATCH.CNF whose RunID is not the car's is ignored: the car does not join the network it offers."""
    link.start(slac_faults=[SlacFault("CM_SLAC_MATCH.CNF", "set_field", {"VariableField.RunID": RANDOM},
                                      times=None)])
    cnf = link.expect_frame("CM_SLAC_MATCH.CNF", T_slac, sender="tester", what="our CM_SLAC_MATCH.CNF (foreign RunID)")
    request = link.next_datagram("SDP.REQ", T.TT_match_join, after=cnf)
    link.check(request is None, f"the car's SDP request over the network of a foreign-RunID CM_SLAC_MATCH.CNF: "
                                f"{'yes' if request else 'none'} (expected none)", mark=request or cnf)


@pytest.mark.requirement("CCSHIL-SLAC-EV-11")
@pytest.mark.fails_with("pev-slac-no-ef-restart")
def test_vehicle_matches_again_after_the_chargers_E_F_cycle(link):
    """When its matching failed and the charger then cycles E/F (T_step_EF) back to 5 %, the car starts a new
    matching and matches."""
    deaf = (1 + T.C_EV_match_retry) * T.C_conn_max_match  # the car's first three attempts go unanswered
    link.start(slac_faults=[SlacFault("in:CM_SLAC_PARM.REQ", "drop", times=deaf)],
               tester_slac={"slac_init": SpecTimer("TT_EVSE_SLAC_init", 20.0, "ISO 15118-3 Table A.1: minimum")})
    link.wait(lambda: any((r.body or {}).get("state") in ("E", "F") for r in link.pilot_states(link.started_at)),
              T_slac, "our charger's E/F step")
    ef = next((r for r in link.pilot_states(link.started_at) if (r.body or {}).get("state") in ("E", "F")), None)
    if ef is None:
        link.fail(f"staging: our charger showed no E/F within {T_slac}")
    assert ef is not None
    limit = SpecTimer("T_step_EF+TT_EVSE_SLAC_init(min)", T.T_step_EF.seconds + 20.0,
                      "ISO 15118-3: E/F for T_step_EF, then the charger waits TT_EVSE_SLAC_init (≥ 20 s) at 5 %")
    request = link.next_frame("CM_SLAC_PARM.REQ", limit, after=ef)
    link.check(request is not None, f"the car's CM_SLAC_PARM.REQ after our E/F cycle within {limit}: "
                                    f"{'yes' if request else 'none'}", mark=request or ef)
    link.wait(lambda: bool(link.frames("CM_SLAC_MATCH.REQ", after=ef)), T_slac, "the car matches")
    link.check(link.frames("CM_SLAC_MATCH.REQ", after=ef), "the car's matching after the E/F cycle reaches "
                                                            "CM_SLAC_MATCH.REQ", mark=len(link.timeline) - 1)
