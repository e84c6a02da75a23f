"""SlacFaultInjector (stack.homeplug.faults), the timer/counter overrides of the SLAC machines, and a car that
matches again after the EVSE's E/F retry cycle — through the modem emulator on the virtual clock."""

from __future__ import annotations

import pytest
from hp_helpers import EVSE_MAC, PEV_MAC, Bench

from stack import sansio as io
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug import timers as T
from stack.homeplug.faults import RANDOM, SESSION_RUN_ID, SlacFault, SlacFaultInjector


def pair(evse_faults=(), pev_faults=(), evse_cfg=None, pev_cfg=None):
    bench = Bench()
    evse_machine, pev_machine = EvseSlac(evse_cfg or EvseSlacConfig()), PevSlac(pev_cfg or PevSlacConfig())
    evse = SlacFaultInjector(evse_machine, list(evse_faults)) if evse_faults else evse_machine
    pev = SlacFaultInjector(pev_machine, list(pev_faults)) if pev_faults else pev_machine
    bench.add("evse", evse, EVSE_MAC)
    bench.add("pev", pev, PEV_MAC)
    bench.runner.call_at(1.0, bench.cp.plug)
    return bench, evse_machine, pev_machine


def test_injector_is_transparent_without_faults_and_exposes_the_machine():
    bench, evse, pev = pair(pev_faults=[SlacFault("CM_VALIDATE.REQ", "drop")])  # never sent: no effect
    bench.run(lambda: evse.done and pev.done, 30)
    wrapped = bench.nodes["pev"].endpoint
    assert pev.matched and evse.matched and wrapped.matched and wrapped.result is pev.result
    assert wrapped.state == "matched"


def test_drop_delay_and_duplicate_outgoing_frames():
    bench, evse, pev = pair(pev_faults=[SlacFault("CM_START_ATTEN_CHAR.IND", "drop", nth=3),
                                        SlacFault("CM_ATTEN_CHAR.RSP", "delay", 0.05),
                                        SlacFault("CM_MNBC_SOUND.IND", "duplicate", 2, nth=1, times=1)])
    bench.run(lambda: evse.done and pev.done, 30)
    assert len(bench.sent("pev", "CM_START_ATTEN_CHAR.IND")) == 2
    sounds = bench.sent("pev", "CM_MNBC_SOUND.IND")
    assert len(sounds) == T.C_EV_match_MNBC + 1 and sounds[0].t == sounds[1].t
    ind, rsp = bench.sent("evse", "CM_ATTEN_CHAR.IND")[0], bench.sent("pev", "CM_ATTEN_CHAR.RSP")[0]
    assert rsp.t - ind.t == pytest.approx(0.05, abs=1e-3)
    assert pev.matched


def test_set_field_nested_random_and_group_counts():
    bench, evse, pev = pair(evse_faults=[SlacFault("CM_ATTEN_CHAR.IND", "set_field", {"Groups": [7] * 10},
                                                   times=None),
                                         SlacFault("CM_SLAC_MATCH.CNF", "set_field",
                                                   {"VariableField.RunID": RANDOM}, times=None)])
    bench.run(lambda: pev.done, 30)
    ind = bench.sent("evse", "CM_ATTEN_CHAR.IND")[0].body
    assert ind["NumberOfGroups"] == 10 and ind["Groups"] == [7] * 10  # the count follows the list
    cnf = bench.sent("evse", "CM_SLAC_MATCH.CNF")[0].body
    assert cnf["VariableField"]["RunID"] != bench.sent("pev", "CM_SLAC_PARM.REQ")[0].body["RunID"]
    assert not pev.matched  # the car ignores a CNF with a foreign RunID


def test_incoming_rewrite_to_the_session_run_id_makes_a_machine_accept_foreign_frames():
    foreign = "0011223344556677"
    bench, evse, pev = pair(
        pev_faults=[SlacFault("CM_START_ATTEN_CHAR.IND", "set_field", {"RunID": foreign}, times=None),
                    SlacFault("CM_MNBC_SOUND.IND", "set_field", {"RunID": foreign}, times=None)],
        evse_faults=[SlacFault("in:CM_START_ATTEN_CHAR.IND", "set_field", {"RunID": SESSION_RUN_ID}, times=None),
                     SlacFault("in:CM_MNBC_SOUND.IND", "set_field", {"RunID": SESSION_RUN_ID}, times=None)])
    bench.run(lambda: evse.done and pev.done, 30)
    assert evse.matched and pev.matched


def test_truncated_frames_and_delayed_pilot_observations():
    bench, evse, pev = pair(pev_faults=[SlacFault("cp:observed", "delay", 2.0, times=None),
                                        SlacFault("CM_ATTEN_CHAR.RSP", "truncate", 22)])
    bench.run(lambda: evse.done and pev.done, 30)
    first = bench.sent("pev", "CM_SLAC_PARM.REQ")[0]
    assert first.t == pytest.approx(3.0, abs=1e-2)  # plugged at 1 s, the car notices 2 s later
    malformed = [r for r in bench.runner.timeline.select(name="slac_malformed") if r.src == "evse"]
    assert malformed and evse.matched  # the EVSE ignored the cut frame and re-sent its IND


def test_oscillator_rewrite_keeps_x1_and_e_f():
    injector = SlacFaultInjector(EvseSlac(), [SlacFault("cp:oscillator", "set_field", {"duty": 6.0}, times=None)])
    out = injector._outputs([io.SetCpOscillator(5.0), io.SetCpOscillator(None), io.SetCpOscillator(None, "F")], 0.0)
    assert [(o.duty, o.state) for o in out] == [(6.0, None), (None, None), (None, "F")]


def test_bad_faults_are_refused():
    with pytest.raises(ValueError, match="action"):
        SlacFault("CM_SLAC_PARM.REQ", "explode")
    with pytest.raises(ValueError, match="seconds"):
        SlacFault("CM_SLAC_PARM.REQ", "delay")
    with pytest.raises(ValueError, match="pilot points"):
        SlacFault("cp:load", "drop")


def test_overrides_change_timers_and_counters_by_their_standard_names():
    bench = Bench()
    pev = PevSlac(PevSlacConfig(wait_for_cp=False, overrides={"C_EV_match_retry": 0, "TT_match_response": 0.1,
                                                              "C_conn_max_match": 2}))
    bench.add("pev", pev, PEV_MAC, cp=False)
    bench.run(lambda: pev.done, 30)
    reqs = bench.sent("pev", "CM_SLAC_PARM.REQ")
    assert len(reqs) == 2  # one send per attempt, two attempts
    assert reqs[1].t - reqs[0].t == pytest.approx(0.1 + T.TT_matching_rate.seconds)


def test_a_failed_car_matches_again_after_the_evse_e_f_cycle():
    deaf = (1 + T.C_EV_match_retry) * T.C_conn_max_match
    bench, evse, pev = pair(evse_faults=[SlacFault("in:CM_SLAC_PARM.REQ", "drop", times=deaf)],
                            evse_cfg=EvseSlacConfig(overrides={"TT_EVSE_SLAC_init": 20.0}))
    bench.run(lambda: evse.done and pev.done, 120)
    states = bench.states("pev")
    assert "slac_failed" in states and states[-1] == "slac_matched"
    unmatched = bench.record("pev", "slac_unmatched")
    assert "E/F" in unmatched.body["reason"] or "retry cycle" in unmatched.body["reason"]
    assert pev.matched and evse.matched and unmatched.t == pytest.approx(21.0, abs=0.01)
