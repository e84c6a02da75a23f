"""SLAC, PEV side (ISO 15118-3), as a sans-IO endpoint. See `stack.homeplug` for the embedding API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from stack import sansio as io
from stack.homeplug import frames as f
from stack.homeplug import timers as T
from stack.homeplug.slac_base import SlacMachine, SlacResult, average_attenuation
from stack.timers import SpecTimer


@dataclass
class PevSlacConfig:
    modem_mac: str = f.QUALCOMM_LOCAL_MAC
    wait_for_cp: bool = True  # False: start matching on Start / Command("slac_start") (no CP on the rig)
    run_id: str = "random"  # "random" (Taycan style) or "mac" (host MAC + 0000, Ioniq style)
    num_sounds: int = T.C_EV_match_MNBC
    max_attenuation_db: float | None = None  # refuse the best EVSE when its average is above this
    join_check: bool = True  # poll VS_PL_LNK_STATUS until the modem reports the AVLN link (TT_match_join)
    batch_interval: SpecTimer = T.TP_EV_batch_msg_interval
    rng: Callable[[int], bytes] | None = None
    overrides: dict[str, float] = field(default_factory=dict)  # timers/counters by name: a faulty DUT only


class PevSlac(SlacMachine):
    """PEV: on 5 % PWM, PARM.REQ → sounds → pick the EVSE with the lowest attenuation → MATCH → SET_KEY → join."""

    role = "pev"

    def __init__(self, config: PevSlacConfig | None = None) -> None:
        self.config = config or PevSlacConfig()
        super().__init__(self.config.modem_mac, self.config.rng, self.config.overrides)
        self.attempts = 0
        self.first_attempt_at: float | None = None
        self._reset_attempt()

    def _reset_attempt(self) -> None:
        self.run_id = b""
        self.parm_sends = 0
        self.candidates: dict[str, object] = {}  # EVSE MAC -> its CM_SLAC_PARM.CNF body
        self.batch: list[tuple[str, object]] = []
        self.atten: dict[str, list[int]] = {}  # EVSE MAC -> AAG groups from its CM_ATTEN_CHAR.IND
        self.chosen = ""
        self.match_sends = 0
        self.nid = b""
        self.nmk = b""

    # ---------------------------------------------------------------- triggers

    def _on_start(self, now: float) -> None:
        if self.config.wait_for_cp:
            self._set("wait_cp", now)
        else:
            self._new_attempt(now)

    def _on_cp(self, event: io.CpObserved, now: float) -> None:
        digital = event.duty is not None and 4.0 <= event.duty <= 6.0 and event.state in ("B", "C", "D")
        if event.state == "A" and self.state not in ("idle", "wait_cp"):
            self._abort(now, "CP state A (unplugged)")
        elif event.state in ("E", "F") and self.state not in ("idle", "wait_cp", "matched", "failed"):
            self._abort(now, f"CP state {event.state} during matching (EVSE restarts SLAC)")
        elif event.state in ("E", "F") and self.state == "failed" and self.config.wait_for_cp:
            # The EVSE's E/F retry cycle [V2G3-M06-07]: a car whose matching failed tries again on the next 5 %.
            self._abort(now, f"CP state {event.state} after a failed matching (EVSE retry cycle)")
        elif digital and self.state in ("wait_cp",) and self.config.wait_for_cp:
            self._new_attempt(now)

    def _on_command(self, event: io.Command, now: float) -> None:
        if event.name == "slac_start" and self.state in ("wait_cp", "failed", "idle"):
            self.result, self.attempts, self.first_attempt_at, self.timings = None, 0, None, {}
            self._new_attempt(now)
        else:
            super()._on_command(event, now)

    def _abort(self, now: float, why: str) -> None:
        self._stop_all_timers()
        self._notify("slac_unmatched", role=self.role, reason=why)
        self.result, self.attempts, self.first_attempt_at, self.timings = None, 0, None, {}
        self._reset_attempt()
        self._set("wait_cp", now)

    # ---------------------------------------------------------------- attempt

    def _new_attempt(self, now: float) -> None:
        self._reset_attempt()
        self.attempts += 1
        if self.first_attempt_at is None:
            self.first_attempt_at = now
            self.timings["start"] = now
        if self.config.run_id == "mac":
            self.run_id = f.mac_bytes(self.mac) + b"\x00\x00"
        else:
            self.run_id = self.rng(8)
        self._send_parm_req(now)

    def _send_parm_req(self, now: float) -> None:
        self.parm_sends += 1
        self._send(f.BROADCAST, f.CmSlacParmReq(ApplicationType=0, SecurityType=0, RunID=self.run_id))
        self._start_timer("response", T.TT_match_response, now)
        self.timings.setdefault("parm_req", now)
        self._set("wait_parm_cnf", now, run_id=self.run_id, attempt=self.attempts, send=self.parm_sends,
                  timer=T.TT_match_response.name)

    def _attempt_failed(self, now: float, reason: str, timer: SpecTimer) -> None:
        self._stop_all_timers()
        self._notify("slac_attempt_failed", role=self.role, reason=reason, timer=timer.name, run_id=self.run_id,
                     attempt=self.attempts)
        within = self.first_attempt_at is not None and \
            now + self._seconds(T.TT_matching_rate) - self.first_attempt_at < self._seconds(T.TT_matching_repetition)
        if self.attempts < self._count("C_conn_max_match", T.C_conn_max_match) and within:
            self._start_timer("rate", T.TT_matching_rate, now)
            self._set("pause", now, timer=T.TT_matching_rate.name)
        else:
            self._finish(SlacResult(self.role, False, reason=reason, timer=timer.name, run_id=self.run_id,
                                    attempts=self.attempts, candidates=self._averages()), now)

    def _averages(self) -> dict[str, float | None]:
        return {mac: average_attenuation(groups) for mac, groups in self.atten.items()}

    # ---------------------------------------------------------------- timers

    def _on_timer(self, name: str, timer: SpecTimer, now: float) -> None:
        if name == "rate":
            self._new_attempt(now)
        elif name == "response" and self.state == "wait_parm_cnf":
            if self.candidates:
                self._start_sounding(now)
            elif self.parm_sends <= self._count("C_EV_match_retry", T.C_EV_match_retry):
                self._send_parm_req(now)
            else:
                self._attempt_failed(now, "no CM_SLAC_PARM.CNF", timer)
        elif name == "batch":
            self._send_next_batch(now)
        elif name == "atten":
            self._choose(now, timer)
        elif name == "response" and self.state == "wait_match_cnf":
            if self.match_sends <= self._count("C_EV_match_retry", T.C_EV_match_retry):
                self._send_match_req(now)
            else:
                self._attempt_failed(now, "no CM_SLAC_MATCH.CNF", timer)
        elif name == "modem":
            self._attempt_failed(now, "local modem did not answer CM_SET_KEY.REQ", timer)
        elif name == "poll":
            self._poll_link(now)
        elif name == "join":
            self._attempt_failed(now, "no AVLN link after CM_SET_KEY (join check)", timer)

    # ---------------------------------------------------------------- sounding

    def _start_sounding(self, now: float) -> None:
        cnf = next(iter(self.candidates.values()))
        sounds = cnf.NumberMSounds or self.config.num_sounds
        time_out = cnf.TimeOut or 6
        self.batch = [("start", None)] * T.C_EV_start_atten_char_inds
        self.batch += [("sound", sounds - 1 - i) for i in range(sounds)]
        self._sounds, self._time_out = sounds, time_out
        self.timings["start_atten_char"] = now
        self._start_timer("atten", T.TT_EV_atten_results, now)
        self._set("sounding", now, evses=sorted(self.candidates), sounds=sounds, timer=T.TT_EV_atten_results.name)
        self._send_next_batch(now)

    def _send_next_batch(self, now: float) -> None:
        if not self.batch:
            return
        kind, count = self.batch.pop(0)
        if kind == "start":
            self._send(f.BROADCAST, f.CmStartAttenCharInd(
                ApplicationType=0, SecurityType=0, NumberOfSounds=self._sounds, TimeOut=self._time_out,
                ResponseType=1, ForwardingSTA=self.mac, RunID=self.run_id))
        else:
            self._send(f.BROADCAST, f.CmMnbcSoundInd(
                ApplicationType=0, SecurityType=0, SenderID=b"\x00" * 17, Countdown=count, RunID=self.run_id,
                RSVD=b"\x00" * 8, RandomValue=self.rng(16)))
        if self.batch:
            self._start_timer("batch", self.config.batch_interval, now)

    def _choose(self, now: float, timer: SpecTimer) -> None:
        self._stop_timer("batch")
        self.batch = []
        if not self.atten:
            self._attempt_failed(now, "no CM_ATTEN_CHAR.IND", timer)
            return
        averages = self._averages()
        # Lowest average attenuation = strongest coupling = the EVSE we are plugged into; unknown (no groups) last.
        self.chosen = min(averages, key=lambda mac: (averages[mac] is None, averages[mac] or 0.0))
        best = averages[self.chosen]
        limit = self.config.max_attenuation_db
        if limit is not None and (best is None or best > limit):
            self._attempt_failed(now, f"lowest attenuation {best} dB above limit {limit} dB", timer)
            return
        self.timings["chosen"] = now
        self._notify("slac_evse_chosen", role=self.role, evse=self.chosen, attenuation_db=best,
                     candidates=averages)
        self._send_match_req(now)

    def _send_match_req(self, now: float) -> None:
        self.match_sends += 1
        self._send(self.chosen, f.CmSlacMatchReq(
            ApplicationType=0, SecurityType=0, MatchVariableFieldLen=62,
            VariableField=f.MatchVarReq(EVID=b"\x00" * 17, EVMAC=self.mac, EVSEID=b"\x00" * 17, EVSEMAC=self.chosen,
                                        RunID=self.run_id)))
        self._start_timer("response", T.TT_match_response, now)
        self._set("wait_match_cnf", now, evse=self.chosen, send=self.match_sends, timer=T.TT_match_response.name)

    # ---------------------------------------------------------------- join

    def _poll_link(self, now: float) -> None:
        self._send(self.modem_mac, f.VsPlLnkStatusReq())
        self._start_timer("poll", T.T_link_poll, now)

    def _matched(self, now: float) -> None:
        self.timings["matched"] = now
        self._finish(SlacResult(self.role, True, nid=self.nid, nmk=self.nmk, peer_mac=self.chosen,
                                run_id=self.run_id, attenuation_db=self._averages().get(self.chosen),
                                attempts=self.attempts, candidates=self._averages()), now)

    # ---------------------------------------------------------------- messages

    def _on_mme(self, mme: f.Mme, now: float) -> None:
        body, mmtype = mme.body, mme.mmtype
        if mmtype == f.CM_SET_KEY | f.CNF:
            if self.state == "set_key":
                self._stop_timer("modem")
                if body.Result not in (0x00, 0x01):
                    self._attempt_failed(now, f"modem refused the key (Result {body.Result})", T.TT_modem_response)
                    return
                self.timings["key_set"] = now
                if not self.config.join_check:
                    self._matched(now)
                    return
                self._start_timer("join", T.TT_match_join, now)
                self._set("join", now, timer=T.TT_match_join.name)
                self._poll_link(now)
            return
        if mmtype == f.VS_PL_LNK_STATUS | f.CNF:
            if self.state == "join" and body.MStatus == 0 and body.LinkStatus == 1:
                self._matched(now)
            return
        run_id = bytes(body.VariableField.RunID) if mme.base == f.CM_SLAC_MATCH else getattr(body, "RunID", None)
        if run_id is None or mmtype not in (f.CM_SLAC_PARM | f.CNF, f.CM_ATTEN_CHAR | f.IND,
                                            f.CM_SLAC_MATCH | f.CNF):
            return  # our own broadcasts echoed by a hub, sounds of other cars, requests meant for EVSEs
        if bytes(run_id) != self.run_id:
            self._ignore(mme, f"foreign RunID {bytes(run_id).hex()} (ours {self.run_id.hex() or 'none'})")
            return
        if mmtype == f.CM_SLAC_PARM | f.CNF:
            if self.state == "wait_parm_cnf" and mme.src not in self.candidates:
                self.candidates[mme.src] = body
                self._notify("slac_parm_cnf", role=self.role, evse=mme.src)
        elif mmtype == f.CM_ATTEN_CHAR | f.IND:
            if body.SourceAdress != self.mac:
                self._ignore(mme, f"SOURCE_ADDRESS {body.SourceAdress} is not us")
                return
            if self.state in ("sounding",):
                self.atten[mme.src] = [g.group for g in body.Groups]
            if self.state in ("sounding", "wait_match_cnf"):
                self._send(mme.src, f.CmAttenCharRsp(
                    ApplicationType=0, SecurityType=0, SourceAdress=self.mac, RunID=self.run_id,
                    SourceID=b"\x00" * 17, ResponseID=b"\x00" * 17, Result=0))
        elif mmtype == f.CM_SLAC_MATCH | f.CNF:
            if self.state != "wait_match_cnf" or mme.src != self.chosen:
                return
            self._stop_timer("response")
            var = body.VariableField
            self.nid, self.nmk = bytes(var.NetworkID), bytes(var.NMK)
            self.timings["match_cnf"] = now
            self._send(self.modem_mac, f.CmSetKeyReq(
                KeyType=1, MyNonce=0xAAAAAAAA, YourNonce=0, PID=4, ProtoRunNumber=0, ProtoMessNumber=0,
                CCoCapability=0, NetworkID=self.nid, NewEncKeySelect=1, NewKey=self.nmk))
            self._start_timer("modem", T.TT_modem_response, now)
            self._set("set_key", now, nid=self.nid, modem=self.modem_mac, timer=T.TT_modem_response.name)
