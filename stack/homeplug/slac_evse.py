"""SLAC, EVSE side (ISO 15118-3), as a sans-IO endpoint. See `stack.homeplug` for the embedding API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scapy.contrib.homepluggp import HPGP_GROUP

from stack import sansio as io
from stack.homeplug import frames as f
from stack.homeplug import timers as T
from stack.homeplug.keys import derive_nid, new_network_key
from stack.homeplug.slac_base import SlacMachine, SlacResult, average_attenuation, half_up
from stack.timers import SpecTimer

DUTY_DIGITAL = 5.0  # % PWM = "digital communication required"
VALIDATE_NOT_REQUIRED = 4  # CM_VALIDATE.CNF Result [unverified]


@dataclass
class EvseSlacConfig:
    modem_mac: str = f.QUALCOMM_LOCAL_MAC  # where CM_SET_KEY.REQ goes (QCA "local modem" address)
    wait_for_cp: bool = True  # False: listen for CM_SLAC_PARM.REQ right after the key is set (no CP on the rig)
    slac_init: SpecTimer = T.TT_EVSE_SLAC_init
    nmk: bytes | None = None  # fixed NMK (tests, replays); None = a fresh random one per session
    num_sounds: int = T.C_EV_match_MNBC
    time_out: int = 6  # ×100 ms, CM_SLAC_PARM.CNF Time_Out (TT_EVSE_match_MNBC)
    fallback_aag: int | None = None  # modem gave no attenuation (TP-Link NumGroups 0): report 58 groups of this
    set_key_ok: tuple[int, ...] = (0x00, 0x01)  # 0 per HomePlug; 1 = QCA modem "applied" (PROTOCOL.md §A.3)
    rng: Callable[[int], bytes] | None = None
    overrides: dict[str, float] = field(default_factory=dict)  # timers/counters by name: a faulty DUT only


class EvseSlac(SlacMachine):
    """EVSE: set the key, 5 % PWM on state B, answer PARM.REQ, average the sounds' attenuation, hand out NID/NMK."""

    role = "evse"

    def __init__(self, config: EvseSlacConfig | None = None) -> None:
        self.config = config or EvseSlacConfig()
        super().__init__(self.config.modem_mac, self.config.rng, self.config.overrides)
        self.nmk = b""
        self.nid = b""
        self.cp_state: str | None = None
        self.sequ_retries = 0
        self.attempts = 0
        self._error_step = False  # after the key is set: E/F for T_step_EF before the 5 % PWM (D-LINK_ERROR)
        self._reset_session()

    def _reset_session(self) -> None:
        self.pev_mac = ""
        self.run_id = b""
        self.application_type = 0
        self.security_type = 0
        self.expected_sounds = self.config.num_sounds
        self.sounds = 0
        self.profiles = 0
        self.sums: list[int] = []
        self.aag: list[int] = []
        self.atten_char_sends = 0

    # ---------------------------------------------------------------- key

    def _new_key(self, now: float) -> None:
        if self.config.nmk is not None:
            self.nmk, self.nid = self.config.nmk, derive_nid(self.config.nmk)
        else:
            self.nmk, self.nid = new_network_key(self.rng)
        body = f.CmSetKeyReq(KeyType=1, MyNonce=0xAAAAAAAA, YourNonce=0, PID=4, ProtoRunNumber=0,
                             ProtoMessNumber=0, CCoCapability=0, NetworkID=self.nid, NewEncKeySelect=1,
                             NewKey=self.nmk)
        self._send(self.modem_mac, body)
        self._start_timer("modem", T.TT_modem_response, now)
        self._set("set_key", now, nid=self.nid, modem=self.modem_mac)

    def _on_start(self, now: float) -> None:
        self._new_key(now)

    # ---------------------------------------------------------------- control pilot

    def _on_cp(self, event: io.CpObserved, now: float) -> None:
        previous, self.cp_state = self.cp_state, event.state
        if event.state == "A" and previous not in (None, "A") and self.state not in ("set_key", "idle", "wait_cp"):
            self._leave(now, "CP state A (unplugged)")
        elif event.state in "BCD" and self.state == "wait_cp":
            self._enable_pwm(now)

    def _enable_pwm(self, now: float) -> None:
        self._emit(io.SetCpOscillator(DUTY_DIGITAL))
        self.timings.setdefault("start", now)
        self._wait_parm(now)

    def _wait_parm(self, now: float) -> None:
        self._reset_session()
        self._stop_all_timers()
        self._start_timer("init", self.config.slac_init, now)
        self._set("wait_parm_req", now, timer=self.config.slac_init.name)

    def _leave(self, now: float, why: str) -> None:
        """Leave the logical network ([V2G3-M09-17]): new key, back to waiting for a car."""
        self._stop_all_timers()
        self._emit(io.SetCpOscillator(None))
        self._notify("slac_unmatched", role=self.role, reason=why)
        self.result, self.attempts, self.sequ_retries, self.timings = None, 0, 0, {}
        self._reset_session()
        self._new_key(now)

    def _on_command(self, event: io.Command, now: float) -> None:
        if event.name == "slac_start" and self.state in ("wait_cp", "failed"):
            self.result, self.attempts, self.sequ_retries = None, 0, 0
            self.timings = {"start": now}
            self._wait_parm(now)
        elif event.name == "slac_leave":
            self._leave(now, "command")
        elif event.name == "slac_link_error":
            # D-LINK_ERROR.request in X2 [V2G3-M07-05]: X2 → X1 (leave the network, new key; T_step_X1) → E/F for
            # T_step_EF [V2G3-M07-08] → 5 % again, ready for a new matching [V2G3-M07-09]
            self._leave(now, "D-LINK_ERROR")
            self._error_step = True
        else:
            super()._on_command(event, now)

    # ---------------------------------------------------------------- timers

    def _on_timer(self, name: str, timer: SpecTimer, now: float) -> None:
        if name == "modem":
            self._finish(SlacResult(self.role, False, reason="local modem did not answer CM_SET_KEY.REQ",
                                    timer=timer.name), now)
        elif name == "init":
            if self.sequ_retries < self._count("C_sequ_retry", T.C_sequ_retry):
                self.sequ_retries += 1
                self._emit(io.SetCpOscillator(None, state="F"))
                self._start_timer("ef", T.T_step_EF, now)
                self._set("ef_retry", now, retry=self.sequ_retries, timer=T.T_step_EF.name)
            else:
                self._finish(SlacResult(self.role, False, reason="no CM_SLAC_PARM.REQ", timer=timer.name,
                                        attempts=self.attempts), now)
        elif name == "x1":
            self._emit(io.SetCpOscillator(None, state="F"))
            self._start_timer("ef", T.T_step_EF, now)
            self._set("ef_retry", now, reason="D-LINK_ERROR", timer=T.T_step_EF.name)
        elif name == "ef":
            self._emit(io.SetCpOscillator(DUTY_DIGITAL))
            self._wait_parm(now)
        elif name == "sequence":
            self._attempt_failed(now, "no CM_START_ATTEN_CHAR.IND", timer)
        elif name == "mnbc":
            self._send_atten_char(now)
        elif name == "response":
            if self.atten_char_sends <= self._count("C_EVSE_atten_char_retry", T.C_EVSE_atten_char_retry):
                self._send_atten_char(now)
            else:
                self._attempt_failed(now, "no CM_ATTEN_CHAR.RSP", timer)
        elif name == "session":
            self._attempt_failed(now, "no CM_SLAC_MATCH.REQ", timer)

    def _attempt_failed(self, now: float, reason: str, timer: SpecTimer) -> None:
        self._notify("slac_attempt_failed", role=self.role, reason=reason, timer=timer.name, run_id=self.run_id,
                     attempt=self.attempts)
        if self.attempts >= self._count("C_conn_max_match", T.C_conn_max_match):
            self._finish(SlacResult(self.role, False, reason=reason, timer=timer.name, run_id=self.run_id,
                                    attempts=self.attempts), now)
        else:
            self._wait_parm(now)

    # ---------------------------------------------------------------- messages

    def _on_mme(self, mme: f.Mme, now: float) -> None:
        body, base = mme.body, mme.base
        if mme.mmtype == f.CM_SET_KEY | f.CNF:
            if self.state != "set_key":
                return
            self._stop_timer("modem")
            if body.Result not in self.config.set_key_ok:
                self._finish(SlacResult(self.role, False, reason=f"modem refused the key (Result {body.Result})"),
                             now)
                return
            self._notify("slac_key_set", role=self.role, result=body.Result, nid=self.nid)
            if self._error_step and self.config.wait_for_cp and self.cp_state in ("B", "C", "D"):
                self._error_step = False  # X1 (set by _leave) for T_step_X1, then E/F for T_step_EF, then 5 %
                self.timings.setdefault("start", now)
                self._start_timer("x1", T.T_step_X1, now)
                self._set("x1_step", now, reason="D-LINK_ERROR", timer=T.T_step_X1.name)
                return
            self._error_step = False
            if self.config.wait_for_cp and self.cp_state not in ("B", "C", "D"):
                self._set("wait_cp", now)
            elif self.config.wait_for_cp:
                self._enable_pwm(now)
            else:
                self.timings.setdefault("start", now)
                self._wait_parm(now)
        elif mme.mmtype == f.CM_SLAC_PARM | f.REQ:
            self._on_parm_req(mme, now)
        elif self.state in ("wait_parm_req", "set_key", "wait_cp", "idle", "ef_retry", "x1_step", "failed"):
            return
        elif mme.mmtype == f.CM_VALIDATE | f.REQ:
            if self.state == "wait_match_req" and mme.src == self.pev_mac:
                self._send(self.pev_mac, f.CmValidateCnf(SignalType=body.SignalType, ToggleNum=0,
                                                         Result=VALIDATE_NOT_REQUIRED))
        elif getattr(body, "RunID", None) is None and base not in (f.CM_SLAC_MATCH, f.CM_ATTEN_PROFILE):
            return
        elif base == f.CM_ATTEN_PROFILE:
            self._on_profile(mme, now)
        elif _run_id(mme) != self.run_id:
            self._ignore(mme, f"foreign RunID {_run_id(mme).hex()} (session {self.run_id.hex()})")
        elif mme.mmtype == f.CM_START_ATTEN_CHAR | f.IND:
            self._on_start_atten(mme, now)
        elif mme.mmtype == f.CM_MNBC_SOUND | f.IND:
            if self.state == "sounding" and mme.src == self.pev_mac:
                self.sounds += 1
        elif mme.mmtype == f.CM_ATTEN_CHAR | f.RSP:
            if self.state == "wait_atten_rsp":
                self._stop_timer("response")
                if body.Result != 0:
                    self._attempt_failed(now, f"CM_ATTEN_CHAR.RSP Result {body.Result}", T.TT_match_response)
                    return
                self.timings["atten_char_rsp"] = now
                self._start_timer("session", T.TT_EVSE_match_session, now)
                self._set("wait_match_req", now, timer=T.TT_EVSE_match_session.name)
        elif mme.mmtype == f.CM_SLAC_MATCH | f.REQ:
            self._on_match_req(mme, now)

    def _on_parm_req(self, mme: f.Mme, now: float) -> None:
        body = mme.body
        if body.ApplicationType != 0:
            self._ignore(mme, f"APPLICATION_TYPE {body.ApplicationType} is not PEV-EVSE matching")
            return
        if self.state in ("wait_start_atten",) and mme.src == self.pev_mac and body.RunID == self.run_id:
            self._send_parm_cnf()  # the PEV repeats PARM.REQ while collecting answers: answer each
            return
        if self.state in ("sounding", "wait_atten_rsp", "wait_match_req", "matched") and mme.src != self.pev_mac:
            self._ignore(mme, f"busy with PEV {self.pev_mac}")
            return
        if self.state in ("set_key", "wait_cp", "idle", "ef_retry", "x1_step", "failed"):
            self._ignore(mme, f"not ready (state {self.state})")
            return
        self._reset_session()
        self.attempts += 1
        self.pev_mac, self.run_id = mme.src, bytes(body.RunID)
        self.application_type, self.security_type = body.ApplicationType, body.SecurityType
        self.timings.setdefault("start", now)
        self.timings["parm_req"] = now
        self._stop_all_timers()
        self._send_parm_cnf()
        self._start_timer("sequence", T.TT_match_sequence, now)
        self._set("wait_start_atten", now, pev_mac=self.pev_mac, run_id=self.run_id, attempt=self.attempts,
                  timer=T.TT_match_sequence.name)

    def _send_parm_cnf(self) -> None:
        self._send(self.pev_mac, f.CmSlacParmCnf(
            MSoundTargetMAC=f.BROADCAST, NumberMSounds=self.config.num_sounds, TimeOut=self.config.time_out,
            ResponseType=1, ForwardingSTA=self.pev_mac, ApplicationType=self.application_type,
            SecurityType=self.security_type, RunID=self.run_id))

    def _on_start_atten(self, mme: f.Mme, now: float) -> None:
        if self.state != "wait_start_atten":
            return  # the 2nd and 3rd of the three repetitions
        body = mme.body
        self.expected_sounds = body.NumberOfSounds or self.config.num_sounds
        self._stop_timer("sequence")
        window = (body.TimeOut or self.config.time_out) * 0.1
        self._start_timer("mnbc", T.TT_EVSE_match_MNBC, now, seconds=window)
        self.timings["start_atten_char"] = now
        self._set("sounding", now, expected_sounds=self.expected_sounds, timer=T.TT_EVSE_match_MNBC.name,
                  window=window)

    def _on_profile(self, mme: f.Mme, now: float) -> None:
        body = mme.body
        if self.state != "sounding" or body.EVMACAddress != self.pev_mac:
            return
        groups = [g.group for g in body.Groups]
        if groups:
            if not self.sums:
                self.sums = [0] * len(groups)
            for i, value in enumerate(groups[: len(self.sums)]):
                self.sums[i] += value
        self.profiles += 1
        if self.profiles >= self.expected_sounds:
            self._stop_timer("mnbc")
            self._send_atten_char(now)

    def _send_atten_char(self, now: float) -> None:
        if self.atten_char_sends == 0:
            if self.sounds == 0 and self.profiles == 0:
                self._attempt_failed(now, "no CM_MNBC_SOUND.IND / CM_ATTEN_PROFILE.IND", T.TT_EVSE_match_MNBC)
                return
            with_data = self.profiles if self.sums else 0
            self.aag = [half_up(s / with_data) for s in self.sums] if with_data else []
            if not self.aag and self.config.fallback_aag is not None:
                self.aag = [self.config.fallback_aag] * 58
            self.timings["atten_char_ind"] = now
        self.atten_char_sends += 1
        self._send(self.pev_mac, f.CmAttenCharInd(
            ApplicationType=self.application_type, SecurityType=self.security_type, SourceAdress=self.pev_mac,
            RunID=self.run_id, SourceID=b"\x00" * 17, ResponseID=b"\x00" * 17,
            NumberOfSounds=max(self.profiles, self.sounds), Groups=[_group(v) for v in self.aag]))
        self._start_timer("response", T.TT_match_response, now)
        self._set("wait_atten_rsp", now, sounds=self.sounds, profiles=self.profiles,
                  attenuation_db=average_attenuation(self.aag), send=self.atten_char_sends,
                  timer=T.TT_match_response.name)

    def _on_match_req(self, mme: f.Mme, now: float) -> None:
        var = mme.body.VariableField
        if mme.src != self.pev_mac:
            self._ignore(mme, f"from {mme.src}, session is with {self.pev_mac}")
            return
        if self.state not in ("wait_match_req", "wait_atten_rsp", "matched"):
            return
        self._stop_timer("session", "response")
        self._send(self.pev_mac, f.CmSlacMatchCnf(
            ApplicationType=self.application_type, SecurityType=self.security_type, MatchVariableFieldLen=86,
            VariableField=f.MatchVarCnf(EVID=bytes(var.EVID), EVMAC=self.pev_mac, EVSEID=bytes(var.EVSEID),
                                        EVSEMAC=self.mac, RunID=self.run_id, NetworkID=self.nid, NMK=self.nmk)))
        if self.state == "matched":
            return  # the PEV repeated MATCH.REQ (our CNF was lost): answered again
        self.timings["matched"] = now
        self._finish(SlacResult(self.role, True, nid=self.nid, nmk=self.nmk, peer_mac=self.pev_mac,
                                run_id=self.run_id, attenuation_db=average_attenuation(self.aag),
                                attempts=self.attempts), now)
        self.state = "matched"


def _run_id(mme: f.Mme) -> bytes:
    body = mme.body
    if mme.base == f.CM_SLAC_MATCH:
        return bytes(body.VariableField.RunID)
    return bytes(getattr(body, "RunID", b""))


def _group(value: int) -> HPGP_GROUP:
    return HPGP_GROUP(group=max(0, min(255, value)))
