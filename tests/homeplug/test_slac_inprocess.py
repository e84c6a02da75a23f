"""EVSE vs PEV through the modem emulator on the virtual clock: matches, cross-talk, every timer/counter path."""

from __future__ import annotations

import pytest
from hp_helpers import EVSE2_MAC, EVSE_MAC, PEV_MAC, Bench

from harness.sim.modem import Fault
from stack import sansio as io
from stack.homeplug import EvseSlac, EvseSlacConfig, PevSlac, PevSlacConfig
from stack.homeplug import frames as f
from stack.homeplug import timers as T
from stack.homeplug.keys import derive_nid


def pair(evse_cfg=None, pev_cfg=None, **line):
    bench = Bench(**line)
    evse = bench.add("evse", EvseSlac(evse_cfg or EvseSlacConfig()), EVSE_MAC)
    pev = bench.add("pev", PevSlac(pev_cfg or PevSlacConfig()), PEV_MAC)
    return bench, evse.endpoint, pev.endpoint


def plug_and_run(bench, until, seconds=30.0, at=1.0):
    bench.runner.call_at(at, bench.cp.plug)
    return bench.run(until, seconds)


def test_match_with_cp_both_sides_agree_and_ip_opens():
    bench, evse, pev = pair()
    assert not bench.medium.reachable(bench.nodes["evse"], bench.nodes["pev"])
    result = plug_and_run(bench, lambda: evse.done and pev.done)
    assert result.reached and evse.matched and pev.matched
    assert evse.result.nmk == pev.result.nmk and pev.result.nid == derive_nid(pev.result.nmk)
    assert pev.result.peer_mac == EVSE_MAC and evse.result.peer_mac == PEV_MAC
    assert evse.result.run_id == pev.result.run_id and len(pev.result.run_id) == 8
    assert bench.medium.reachable(bench.nodes["evse"], bench.nodes["pev"])
    # EVSE: key first, 5 % PWM on state B, then the session; PEV starts on seeing 5 %
    osc = [r for r in bench.runner.timeline.select(name="oscillator")]
    assert osc[0].body == {"duty": 5.0, "state": None} and osc[0].t == pytest.approx(1.0)
    assert pev.result.timings["start"] == pytest.approx(1.0)
    assert bench.states("pev")[:3] == ["slac_wait_cp", "slac_wait_parm_cnf", "slac_parm_cnf"]
    assert bench.states("pev")[-1] == "slac_matched" and bench.states("evse")[-1] == "slac_matched"
    # 3 START_ATTEN_CHAR then 10 sounds, TP_EV_batch_msg_interval apart; PEV decides after TT_EV_atten_results
    starts, sounds = bench.sent("pev", "CM_START_ATTEN_CHAR.IND"), bench.sent("pev", "CM_MNBC_SOUND.IND")
    assert len(starts) == T.C_EV_start_atten_char_inds and len(sounds) == T.C_EV_match_MNBC
    assert sounds[1].t - sounds[0].t == pytest.approx(T.TP_EV_batch_msg_interval.seconds)
    assert [s.body["Countdown"] for s in sounds] == list(range(9, -1, -1))
    match_req = bench.sent("pev", "CM_SLAC_MATCH.REQ")[0]
    assert match_req.t - starts[0].t == pytest.approx(T.TT_EV_atten_results.seconds)
    atten = bench.sent("evse", "CM_ATTEN_CHAR.IND")[0].body
    assert atten["NumberOfSounds"] == 10 and atten["Groups"] == [20] * 58


def test_cross_talk_pev_picks_the_lower_attenuation():
    bench = Bench()
    far = bench.add("evse1", EvseSlac(), EVSE_MAC).endpoint
    near = bench.add("evse2", EvseSlac(), EVSE2_MAC).endpoint
    pev = bench.add("pev", PevSlac(), PEV_MAC).endpoint
    bench.line.set_attenuation("pev-modem", "evse1-modem", 42)
    bench.line.set_attenuation("pev-modem", "evse2-modem", [15 + (i % 7) for i in range(58)])
    bench.line.set_attenuation("evse1-modem", "evse2-modem", 50)
    plug_and_run(bench, lambda: pev.done and near.done and bench.record("evse1", "slac_attempt_failed"), seconds=60)
    assert pev.matched and pev.result.peer_mac == EVSE2_MAC
    assert pev.result.candidates == {EVSE_MAC: 42.0, EVSE2_MAC: pytest.approx(sum(15 + i % 7 for i in range(58)) / 58)}
    assert near.matched and near.result.nmk == pev.result.nmk
    failed = bench.record("evse1", "slac_attempt_failed").body  # the other EVSE waits for another car
    assert not far.matched and far.state == "wait_parm_req"
    assert (failed["reason"], failed["timer"]) == ("no CM_SLAC_MATCH.REQ", "TT_EVSE_match_session")
    assert bench.medium.reachable(bench.nodes["pev"], bench.nodes["evse2"])
    assert not bench.medium.reachable(bench.nodes["pev"], bench.nodes["evse1"])


def test_no_slac_parm_cnf_three_sends_per_attempt_then_fail():
    bench = Bench()
    pev = bench.add("pev", PevSlac(PevSlacConfig(wait_for_cp=False)), PEV_MAC, cp=False).endpoint
    bench.run(lambda: pev.done, 30)
    reqs = bench.sent("pev", "CM_SLAC_PARM.REQ")
    assert len(reqs) == T.C_conn_max_match * (1 + T.C_EV_match_retry)
    first = reqs[:3]
    assert {r.body["RunID"] for r in first} == {first[0].body["RunID"]}  # same RunID within an attempt
    assert [round(r.t - first[0].t, 6) for r in first] == [0, 0.2, 0.4]
    assert reqs[3].t - reqs[2].t == pytest.approx(T.TT_match_response.seconds + T.TT_matching_rate.seconds)
    assert reqs[3].body["RunID"] != first[0].body["RunID"]  # a new attempt, a new RunID
    assert pev.result.reason == "no CM_SLAC_PARM.CNF" and pev.result.timer == "TT_match_response"
    assert pev.result.attempts == T.C_conn_max_match


def test_evse_without_parm_req_cycles_e_f_then_fails():
    bench = Bench()
    evse = bench.add("evse", EvseSlac(), EVSE_MAC).endpoint
    plug_and_run(bench, lambda: evse.done, seconds=400)
    osc = [(round(r.t, 4), r.body["duty"], r.body["state"]) for r in bench.runner.timeline.select(name="oscillator")]
    assert osc == [(1.0, 5.0, None), (51.0, None, "F"), (55.0, 5.0, None), (105.0, None, "F"), (109.0, 5.0, None)]
    assert evse.result.reason == "no CM_SLAC_PARM.REQ" and evse.result.timer == "TT_EVSE_SLAC_init"
    assert bench.record("evse", "slac_failed").t == pytest.approx(159.0)


def test_missing_sounds_all_and_some():
    bench, evse, pev = pair()
    bench.line.add_fault(Fault("drop", mmtype=f.CM_MNBC_SOUND | f.IND, count=None))
    plug_and_run(bench, lambda: pev.done, seconds=60)
    failed = [r.body for r in bench.runner.timeline.select(name="slac_attempt_failed") if r.src == "evse"]
    assert failed[0]["reason"] == "no CM_MNBC_SOUND.IND / CM_ATTEN_PROFILE.IND"
    assert failed[0]["timer"] == "TT_EVSE_match_MNBC"
    assert pev.result.reason == "no CM_ATTEN_CHAR.IND" and pev.result.timer == "TT_EV_atten_results"

    bench, evse, pev = pair()
    bench.line.add_fault(Fault("drop", mmtype=f.CM_MNBC_SOUND | f.IND, count=4))
    plug_and_run(bench, lambda: pev.done and evse.done)
    assert pev.matched
    ind = bench.sent("evse", "CM_ATTEN_CHAR.IND")[0]
    start = bench.record("evse", "slac_sounding")
    assert ind.body["NumberOfSounds"] == 6 and ind.t - start.t == pytest.approx(T.TT_EVSE_match_MNBC.seconds)


def test_lost_match_req_retries_then_a_new_attempt_matches():
    bench, evse, pev = pair()
    bench.line.add_fault(Fault("drop", mmtype=f.CM_SLAC_MATCH | f.REQ, count=3))
    plug_and_run(bench, lambda: pev.done and evse.done, seconds=60)
    reqs = bench.sent("pev", "CM_SLAC_MATCH.REQ")
    assert [round(r.t - reqs[0].t, 6) for r in reqs[:3]] == [0, 0.2, 0.4]
    failed = bench.record("pev", "slac_attempt_failed").body
    assert failed["reason"] == "no CM_SLAC_MATCH.CNF" and failed["timer"] == "TT_match_response"
    assert pev.matched and pev.result.attempts == 2 and evse.matched


def test_evse_re_sends_atten_char_then_gives_up_without_rsp():
    bench, evse, pev = pair()
    bench.line.add_fault(Fault("drop", mmtype=f.CM_ATTEN_CHAR | f.RSP, count=None))
    bench.line.add_fault(Fault("drop", mmtype=f.CM_SLAC_MATCH | f.REQ, count=None))
    plug_and_run(bench, lambda: pev.done, seconds=60)
    inds = bench.sent("evse", "CM_ATTEN_CHAR.IND")
    assert [round(r.t - inds[0].t, 6) for r in inds[:3]] == [0, 0.2, 0.4]  # as the Compleo did
    failed = [r.body for r in bench.runner.timeline.select(name="slac_attempt_failed") if r.src == "evse"][0]
    assert failed["reason"] == "no CM_ATTEN_CHAR.RSP"
    assert not pev.matched


def test_pev_refusing_high_attenuation_leaves_evse_waiting_for_match_session():
    bench, evse, pev = pair(pev_cfg=PevSlacConfig(max_attenuation_db=10))
    plug_and_run(bench, lambda: evse.done and pev.done, seconds=120)
    assert pev.result.reason == "lowest attenuation 20.0 dB above limit 10 dB"
    failed = [r for r in bench.runner.timeline.select(name="slac_attempt_failed") if r.src == "evse"][0]
    waiting = [r for r in bench.runner.timeline.select(name="slac_wait_match_req") if r.src == "evse"][-1]
    assert failed.body["timer"] == "TT_EVSE_match_session"
    assert failed.t - waiting.t == pytest.approx(T.TT_EVSE_match_session.seconds)


def test_modem_ignoring_set_key():
    bench, evse, pev = pair()
    bench.line.add_fault(Fault("ignore_set_key", modem="evse-modem", count=None))
    bench.run(lambda: evse.done, 10)
    assert evse.result.reason == "local modem did not answer CM_SET_KEY.REQ"
    assert bench.record("evse", "slac_failed").t == pytest.approx(T.TT_modem_response.seconds)


def test_pev_join_check_fails_when_the_link_never_comes_up():
    bench, evse, pev = pair(join_delay=100.0)
    plug_and_run(bench, lambda: pev.done, seconds=200)
    failed = [r.body for r in bench.runner.timeline.select(name="slac_attempt_failed") if r.src == "pev"][0]
    assert failed["reason"] == "no AVLN link after CM_SET_KEY (join check)" and failed["timer"] == "TT_match_join"
    polls = bench.sent("pev", "VS_PL_LNK_STATUS.REQ")
    assert len(polls) > 100


def test_corrupted_frames_become_malformed_notifications_and_the_match_survives():
    bench, evse, pev = pair()
    bench.line.add_fault(Fault("corrupt", mmtype=f.CM_SLAC_PARM | f.CNF, count=1))
    plug_and_run(bench, lambda: pev.done and evse.done)
    malformed = bench.record("pev", "slac_malformed").body
    assert "CM_SLAC_PARM.CNF" in malformed["error"] and malformed["raw"]
    assert pev.matched and evse.matched


def test_foreign_run_ids_are_ignored():
    bench, evse, pev = pair()

    class Intruder:
        """Another car's frames with its own RunID, sent while ours is sounding."""

        def __init__(self):
            self.deadline = 1.25
            self.mac = "02:00:00:00:00:99"

        def handle(self, event, now):
            if isinstance(event, io.Start):
                self.mac = event.mac
            if isinstance(event, io.Tick):
                self.deadline = None
                run_id = b"\xee" * 8
                return [io.SendFrame(f.make(f.BROADCAST, self.mac, f.CmStartAttenCharInd(
                            NumberOfSounds=10, TimeOut=6, ResponseType=1, ForwardingSTA=self.mac, RunID=run_id))),
                        io.SendFrame(f.make(EVSE_MAC, self.mac, f.CmSlacMatchReq(
                            MatchVariableFieldLen=62, VariableField=f.MatchVarReq(EVMAC=self.mac, EVSEMAC=EVSE_MAC,
                                                                                  RunID=run_id)))),
                        io.SendFrame(f.make(PEV_MAC, self.mac, f.CmSlacParmCnf(
                            MSoundTargetMAC=f.BROADCAST, NumberMSounds=10, TimeOut=6, ResponseType=1,
                            ForwardingSTA=PEV_MAC, RunID=run_id)))]
            return []

        def next_deadline(self):
            return self.deadline

    bench.add("intruder", Intruder(), "02:00:00:00:00:99", cp=False)
    plug_and_run(bench, lambda: pev.done and evse.done)
    ignored = [(r.src, r.body["mme"]) for r in bench.runner.timeline.select(name="slac_ignored")]
    assert ("evse", "CM_START_ATTEN_CHAR.IND") in ignored and ("pev", "CM_SLAC_PARM.CNF") in ignored
    assert ("evse", "CM_SLAC_MATCH.REQ") in ignored
    assert pev.matched and evse.matched and evse.result.peer_mac == PEV_MAC


def test_unplug_after_match_leaves_the_network_with_a_new_key():
    bench, evse, pev = pair()
    plug_and_run(bench, lambda: pev.done and evse.done)
    old = evse.nmk
    bench.cp.plug("A")
    bench.run(lambda: evse.state == "wait_cp", 5)
    assert bench.record("evse", "slac_unmatched").body["reason"] == "CP state A (unplugged)"
    assert evse.nmk != old and pev.state == "wait_cp"
    bench.run(lambda: not bench.medium.reachable(bench.nodes["evse"], bench.nodes["pev"]), 1)
    assert not bench.medium.reachable(bench.nodes["evse"], bench.nodes["pev"])


def test_every_spec_timer_is_declared_once_with_its_source():
    names = [t.name for t in T.ALL_TIMERS]
    assert len(names) == len(set(names))
    assert {"TT_EVSE_SLAC_init", "TT_match_sequence", "TT_match_response", "TT_EV_atten_results",
            "TT_EVSE_match_MNBC", "TT_EVSE_match_session", "TT_matching_repetition", "TT_matching_rate",
            "T_step_EF", "TP_EV_batch_msg_interval", "TT_match_join"} <= set(names)
    assert all(t.source for t in T.ALL_TIMERS)
