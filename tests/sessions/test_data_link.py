"""Our EVSE supervises the data link after SLAC [V2G2-723]: no V2G session within
V2G_SECC_CommunicationSetup_Performance_Time is a D-LINK_ERROR (X1 → E/F → 5 % [V2G3-M07-05]); a session in time,
however long it then runs, is not."""

from __future__ import annotations

import pytest

from stack.homeplug import timers as T
from stack.roles.evse import V2G_SECC_CommunicationSetup_Performance_Time as T_setup
from stack.sessions.faults import Fault
from tests.sessions.helpers import make_pair


def oscillator(pair):
    return [(round(r.t, 4), r.body["duty"], r.body["state"]) for r in pair.runner.timeline.select(name="oscillator")
            if r.src == "evse"]


def test_no_session_after_the_match_is_a_data_link_error():
    pair = make_pair("din", slac=True, pev_faults=[Fault("SDP.REQ", "drop", times=None)])
    pair.run(60, until=lambda: bool(pair.state("d_link_error")) and pair.evse.slac.state == "wait_parm_req")
    matched = [r for r in pair.state("slac_matched") if r.src == "evse"][0].t
    error = pair.state("d_link_error")[0]
    assert error.t - matched == pytest.approx(T_setup.seconds) and error.body["requirement"] == "V2G2-723"
    after = [o for o in oscillator(pair) if o[0] >= error.t]
    assert [(duty, state) for _, duty, state in after] == [(None, None), (None, "F"), (5.0, None)]
    assert after[1][0] - after[0][0] == pytest.approx(T.T_step_X1.seconds, abs=0.01)
    assert after[2][0] - after[1][0] == pytest.approx(T.T_step_EF.seconds)
    assert not pair.evse.slac.matched  # it left the network (a fresh key) and waits for a new matching


def test_a_session_set_up_in_time_is_not_interrupted_however_long_it_runs():
    pair = make_pair("din", slac=True, pev={"charge_loops": 200, "cycle": 0.25})
    pair.run(600)
    assert pair.pev.result.ok and not pair.state("d_link_error")
    session = pair.runner.timeline.select(name="SessionStopRes", layer="exi")[0].t
    matched = [r for r in pair.state("slac_matched") if r.src == "evse"][0].t
    assert session - matched > T_setup.seconds  # the session outlasted the supervision window
