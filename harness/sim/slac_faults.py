"""SLAC DUT faults (ISO 15118-3) for `--dut-fault NAME`: a faulty charger (`evse-slac-*`, `evse-modem-*`,
`evse-hlc-*`) or car (`pev-slac-*`, `pev-modem-*`) in the sim rig's DUT seat.

Each `SlacDutFault` makes our own SLAC machine in the DUT seat break one rule, by any mix of
- message faults (`stack.homeplug.faults.SlacFault`: what it sends or how it reads what it receives),
- timer/counter overrides (`overrides`, by the standard's names: `TT_EVSE_SLAC_init`, `C_EV_match_retry`, ...),
- settings of its SLAC config (`config`: `EvseSlacConfig`/`PevSlacConfig` fields),
- attributes of the composite role around it (`endpoint`: e.g. the Evse's data-link `setup_timer`).

A modem that never takes the key is staged on the host side (its CM_SET_KEY.REQ never reaches the modem), not as a
modem-emulator fault: the harness's own safe-state key reset must still reach the modem after the test.

`apply(bench, role, endpoint, node)` is called by `harness.nodes` for a node in the DUT seat (through
`harness.sim.apply_dut_faults`); the catalogue's SLAC tests (testcases/slac/) declare these names with
`fails_with(...)`, and the fault check proves each makes them fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stack.homeplug.faults import RANDOM, SESSION_RUN_ID, SlacFault, SlacFaultInjector
from stack.timers import SpecTimer


@dataclass(frozen=True)
class SlacDutFault:
    name: str
    role: str  # "evse" | "pev": the role the faulty DUT plays
    requirement: str
    description: str
    faults: tuple[SlacFault, ...] = ()
    overrides: Mapping[str, float] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    endpoint: Mapping[str, Any] = field(default_factory=dict)  # attributes of the role endpoint (setup_timer)


def _f(when: str, action: str, value: Any = None, **kw: Any) -> SlacFault:
    return SlacFault(when, action, value, **kw)


_FOREIGN_MAC = "02:00:de:ad:be:ef"
_SETS = [
    # ---- a faulty charger (EVSE DUT); our car is the tester
    SlacDutFault("evse-slac-slow-parm-cnf", "evse", "CCSHIL-SLAC-SE-01",
                 "answers CM_SLAC_PARM.REQ 300 ms late (after TT_match_response)",
                 (_f("CM_SLAC_PARM.CNF", "delay", 0.3, times=None),)),
    SlacDutFault("evse-slac-parm-cnf-wrong-runid", "evse", "CCSHIL-SLAC-RUNID-01",
                 "answers CM_SLAC_PARM.REQ with a RunID of its own",
                 (_f("CM_SLAC_PARM.CNF", "set_field", {"RunID": RANDOM}, times=None),)),
    SlacDutFault("evse-slac-atten-char-wrong-runid", "evse", "CCSHIL-SLAC-RUNID-01",
                 "sends CM_ATTEN_CHAR.IND with a RunID other than the car's",
                 (_f("CM_ATTEN_CHAR.IND", "set_field", {"RunID": RANDOM}, times=None),)),
    SlacDutFault("evse-slac-match-cnf-wrong-runid", "evse", "CCSHIL-SLAC-RUNID-01",
                 "answers CM_SLAC_MATCH.REQ with a RunID other than the car's",
                 (_f("CM_SLAC_MATCH.CNF", "set_field", {"VariableField.RunID": RANDOM}, times=None),)),
    SlacDutFault("evse-slac-parm-cnf-wrong-sta", "evse", "CCSHIL-SLAC-SE-02",
                 "names another station as FORWARDING_STA in CM_SLAC_PARM.CNF",
                 (_f("CM_SLAC_PARM.CNF", "set_field", {"ForwardingSTA": _FOREIGN_MAC}, times=None),)),
    SlacDutFault("evse-slac-parm-cnf-few-sounds", "evse", "CCSHIL-SLAC-SE-03",
                 "asks for 5 M-sounds and a 300 ms window in CM_SLAC_PARM.CNF",
                 (_f("CM_SLAC_PARM.CNF", "set_field", {"NumberMSounds": 5, "TimeOut": 3}, times=None),)),
    SlacDutFault("evse-slac-parm-cnf-security-type", "evse", "CCSHIL-SLAC-SE-04",
                 "answers a SECURITY_TYPE 0 request with SECURITY_TYPE 1 in CM_SLAC_PARM.CNF",
                 (_f("CM_SLAC_PARM.CNF", "set_field", {"SecurityType": 1}, times=None),)),
    SlacDutFault("evse-slac-any-application-type", "evse", "CCSHIL-SLAC-SE-05",
                 "answers CM_SLAC_PARM.REQ whatever its APPLICATION_TYPE",
                 (_f("in:CM_SLAC_PARM.REQ", "set_field", {"ApplicationType": 0}, times=None),)),
    SlacDutFault("evse-slac-ignores-repeated-parm-req", "evse", "V2G3-A09-16",
                 "ignores a new CM_SLAC_PARM.REQ from the car it is matching with",
                 (_f("in:CM_SLAC_PARM.REQ", "drop", times=None, state="wait_start_atten"),)),
    SlacDutFault("evse-slac-late-atten-char", "evse", "V2G3-A09-31",
                 "sends CM_ATTEN_CHAR.IND 1.3 s late (after TT_EV_atten_results)",
                 (_f("CM_ATTEN_CHAR.IND", "delay", 1.3, times=None),)),
    SlacDutFault("evse-slac-atten-char-no-groups", "evse", "CCSHIL-SLAC-SE-06",
                 "sends CM_ATTEN_CHAR.IND without attenuation groups (NumGroups 0)",
                 (_f("CM_ATTEN_CHAR.IND", "set_field", {"Groups": []}, times=None),)),
    SlacDutFault("evse-slac-atten-char-wrong-source", "evse", "CCSHIL-SLAC-SE-06",
                 "names another car as SOURCE_ADDRESS in CM_ATTEN_CHAR.IND",
                 (_f("CM_ATTEN_CHAR.IND", "set_field", {"SourceAdress": _FOREIGN_MAC}, times=None),)),
    SlacDutFault("evse-slac-synthetic-attenuation", "evse", "V2G3-A09-19",
                 "reports 9 dB in every group whatever its modem measured (as pyPLC does)",
                 (_f("CM_ATTEN_CHAR.IND", "set_field", {"Groups": [9] * 58}, times=None),)),
    SlacDutFault("evse-slac-waits-for-all-sounds", "evse", "CCSHIL-SLAC-SE-07",
                 "waits 5 s instead of TT_EVSE_match_MNBC for missing M-sounds",
                 overrides={"TT_EVSE_match_MNBC": 5.0}),
    SlacDutFault("evse-slac-slow-match-cnf", "evse", "CCSHIL-SLAC-SE-08",
                 "answers CM_SLAC_MATCH.REQ 300 ms late (after TT_match_response)",
                 (_f("CM_SLAC_MATCH.CNF", "delay", 0.3, times=None),)),
    SlacDutFault("evse-slac-match-cnf-nid-mismatch", "evse", "CCSHIL-SLAC-SE-08",
                 "hands out a NID that does not belong to the NMK in CM_SLAC_MATCH.CNF",
                 (_f("CM_SLAC_MATCH.CNF", "set_field", {"VariableField.NetworkID": RANDOM}, times=None),)),
    SlacDutFault("evse-slac-match-wrong-nmk", "evse", "CCSHIL-SLAC-JOIN-01",
                 "hands out an NMK other than the one its modem holds",
                 (_f("CM_SLAC_MATCH.CNF", "set_field", {"VariableField.NMK": RANDOM}, times=None),)),
    SlacDutFault("evse-modem-ignores-set-key", "evse", "CCSHIL-SLAC-JOIN-01",
                 "its modem never takes CM_SET_KEY.REQ (the charger never gets a network of its own)",
                 (_f("CM_SET_KEY.REQ", "drop", times=None),)),
    SlacDutFault("evse-slac-accepts-foreign-runid", "evse", "CCSHIL-SLAC-RUNID-02",
                 "takes sounds, responses and CM_SLAC_MATCH.REQ whatever their RunID",
                 (_f("in:CM_START_ATTEN_CHAR.IND", "set_field", {"RunID": SESSION_RUN_ID}, times=None),
                  _f("in:CM_MNBC_SOUND.IND", "set_field", {"RunID": SESSION_RUN_ID}, times=None),
                  _f("in:CM_ATTEN_CHAR.RSP", "set_field", {"RunID": SESSION_RUN_ID}, times=None),
                  _f("in:CM_SLAC_MATCH.REQ", "set_field", {"VariableField.RunID": SESSION_RUN_ID}, times=None))),
    SlacDutFault("evse-slac-aborts-on-malformed", "evse", "V2G3-A09-47",
                 "gives up the matching (leaves the network) when it receives a malformed HomePlug frame",
                 (_f("in:malformed", "abort", times=None),)),
    SlacDutFault("evse-no-link-supervision", "evse", "V2G2-723",
                 "keeps a matched data link without a V2G session for good (no D-LINK_ERROR)",
                 endpoint={"setup_timer": SpecTimer("V2G_SECC_CommunicationSetup_Performance_Time", 1e6, "fault")}),
    SlacDutFault("evse-link-error-without-ef", "evse", "V2G3-M07-05",
                 "leaves the network through X1 only, never signalling E/F",
                 (_f("cp:oscillator", "set_field", {"state": None}, times=None),)),
    SlacDutFault("evse-slac-sticky-key", "evse", "V2G3-M09-17",
                 "hands out the same NMK to every car, also after the previous one left",
                 config={"nmk": bytes.fromhex("5eed" * 8)}),
    SlacDutFault("evse-slac-early-ef", "evse", "V2G3-M06-07",
                 "gives up waiting for CM_SLAC_PARM.REQ after 10 s instead of TT_EVSE_SLAC_init (20-50 s)",
                 overrides={"TT_EVSE_SLAC_init": 10.0}),
    SlacDutFault("evse-slac-no-ef-retry", "evse", "V2G3-M06-07",
                 "without CM_SLAC_PARM.REQ stays at 5 % for good: no E/F retry",
                 overrides={"C_sequ_retry": 0}),
    SlacDutFault("evse-slac-short-ef", "evse", "V2G3-M06-09",
                 "holds E/F for 1 s instead of at least T_step_EF (4 s)",
                 overrides={"T_step_EF": 1.0}),
    SlacDutFault("evse-slac-short-match-sequence", "evse", "CCSHIL-SLAC-SE-10",
                 "waits only 100 ms instead of TT_match_sequence for CM_START_ATTEN_CHAR.IND",
                 overrides={"TT_match_sequence": 0.1}),
    SlacDutFault("evse-slac-endless-ef", "evse", "V2G3-M06-07",
                 "repeats its E/F retry cycle without end (C_sequ_retry is 2)",
                 overrides={"C_sequ_retry": 1000}),
    SlacDutFault("evse-slac-short-match-session", "evse", "CCSHIL-SLAC-SE-09",
                 "waits only 3 s instead of TT_EVSE_match_session for CM_SLAC_MATCH.REQ",
                 overrides={"TT_EVSE_match_session": 3.0}),
    SlacDutFault("evse-hlc-duty-6", "evse", "V2G2-852",
                 "signals 6 % instead of 5 % while it waits for high-level communication",
                 (_f("cp:oscillator", "set_field", {"duty": 6.0}, times=None),)),
    # ---- a faulty car (PEV DUT); our charger is the tester
    SlacDutFault("pev-slac-wrong-application-type", "pev", "CCSHIL-SLAC-EV-01",
                 "sends CM_SLAC_PARM.REQ with APPLICATION_TYPE 1",
                 (_f("CM_SLAC_PARM.REQ", "set_field", {"ApplicationType": 1}, times=None),)),
    SlacDutFault("pev-slac-sleepy", "pev", "CCSHIL-SLAC-EV-02",
                 "notices the pilot (and the 5 % PWM) only 25 s late",
                 (_f("cp:observed", "delay", 25.0, times=None),)),
    SlacDutFault("pev-slac-two-start-atten-char", "pev", "CCSHIL-SLAC-EV-03",
                 "sends CM_START_ATTEN_CHAR.IND twice instead of three times",
                 (_f("CM_START_ATTEN_CHAR.IND", "drop", nth=3),)),
    SlacDutFault("pev-slac-start-atten-wrong-sounds", "pev", "CCSHIL-SLAC-EV-03",
                 "announces 5 sounds in CM_START_ATTEN_CHAR.IND where the charger asked for 10",
                 (_f("CM_START_ATTEN_CHAR.IND", "set_field", {"NumberOfSounds": 5}, times=None),)),
    SlacDutFault("pev-slac-nine-sounds", "pev", "CCSHIL-SLAC-EV-04",
                 "sends 9 CM_MNBC_SOUND.IND instead of 10 (the last one is missing)",
                 (_f("CM_MNBC_SOUND.IND", "drop", nth=10),)),
    SlacDutFault("pev-slac-slow-sounds", "pev", "CCSHIL-SLAC-EV-05",
                 "sends its sounds 80 ms apart (TP_EV_batch_msg_interval is 20-50 ms)",
                 overrides={"TP_EV_batch_msg_interval": 0.08}),
    SlacDutFault("pev-slac-fast-sounds", "pev", "CCSHIL-SLAC-EV-05",
                 "sends its sounds 5 ms apart (TP_EV_batch_msg_interval is 20-50 ms)",
                 overrides={"TP_EV_batch_msg_interval": 0.005}),
    SlacDutFault("pev-slac-slow-atten-rsp", "pev", "CCSHIL-SLAC-EV-06",
                 "answers CM_ATTEN_CHAR.IND 300 ms late (after TT_match_response)",
                 (_f("CM_ATTEN_CHAR.RSP", "delay", 0.3, times=None),)),
    SlacDutFault("pev-slac-atten-rsp-failure", "pev", "CCSHIL-SLAC-EV-06",
                 "answers CM_ATTEN_CHAR.IND with Result 1 (failure) and matches anyway",
                 (_f("CM_ATTEN_CHAR.RSP", "set_field", {"Result": 1}, times=None),)),
    SlacDutFault("pev-slac-short-atten-window", "pev", "V2G3-A09-31",
                 "stops accepting CM_ATTEN_CHAR.IND 500 ms after its first CM_START_ATTEN_CHAR.IND",
                 overrides={"TT_EV_atten_results": 0.5}),
    SlacDutFault("pev-slac-long-atten-window", "pev", "V2G3-A09-30",
                 "waits 3 s instead of TT_EV_atten_results before it chooses a charger",
                 overrides={"TT_EV_atten_results": 3.0}),
    SlacDutFault("pev-slac-match-wrong-evse-mac", "pev", "CCSHIL-SLAC-EV-07",
                 "names another charger as EVSE_MAC in CM_SLAC_MATCH.REQ",
                 (_f("CM_SLAC_MATCH.REQ", "set_field", {"VariableField.EVSEMAC": _FOREIGN_MAC}, times=None),)),
    SlacDutFault("pev-slac-takes-first-evse", "pev", "CCSHIL-SLAC-EV-08",
                 "matches with the first charger whose CM_ATTEN_CHAR.IND arrives, whatever its attenuation",
                 (_f("in:CM_ATTEN_CHAR.IND", "drop", nth=2, times=None),)),
    SlacDutFault("pev-slac-parm-retry-flood", "pev", "CCSHIL-SLAC-EV-09",
                 "repeats unanswered requests every 50 ms instead of after TT_match_response",
                 overrides={"TT_match_response": 0.05}),
    SlacDutFault("pev-slac-too-many-retries", "pev", "CCSHIL-SLAC-EV-09",
                 "repeats an unanswered CM_SLAC_PARM.REQ five times (C_EV_match_retry is 2)",
                 overrides={"C_EV_match_retry": 5}),
    SlacDutFault("pev-slac-no-match-retry", "pev", "CCSHIL-SLAC-EV-10",
                 "does not repeat an unanswered CM_SLAC_MATCH.REQ",
                 overrides={"C_EV_match_retry": 0}),
    SlacDutFault("pev-slac-no-matching-pause", "pev", "V2G3-A09-124",
                 "starts the next matching attempt at once instead of after TT_matching_rate",
                 overrides={"TT_matching_rate": 0.0}),
    SlacDutFault("pev-slac-endless-retries", "pev", "V2G3-A09-125",
                 "keeps starting new matching attempts beyond TT_matching_repetition",
                 overrides={"C_conn_max_match": 1000, "TT_matching_repetition": 1e6}),
    SlacDutFault("pev-slac-accepts-foreign-runid", "pev", "CCSHIL-SLAC-RUNID-03",
                 "takes CM_SLAC_PARM.CNF, CM_ATTEN_CHAR.IND and CM_SLAC_MATCH.CNF whatever their RunID",
                 (_f("in:CM_SLAC_PARM.CNF", "set_field", {"RunID": SESSION_RUN_ID}, times=None),
                  _f("in:CM_ATTEN_CHAR.IND", "set_field", {"RunID": SESSION_RUN_ID}, times=None),
                  _f("in:CM_SLAC_MATCH.CNF", "set_field", {"VariableField.RunID": SESSION_RUN_ID}, times=None))),
    SlacDutFault("pev-modem-ignores-set-key", "pev", "CCSHIL-SLAC-JOIN-02",
                 "its modem never takes CM_SET_KEY.REQ (the car never joins the charger's network)",
                 (_f("CM_SET_KEY.REQ", "drop", times=None),)),
    SlacDutFault("pev-slac-no-ef-restart", "pev", "CCSHIL-SLAC-EV-11",
                 "does not restart matching when the EVSE cycles E/F after a failed matching",
                 (_f("cp:observed:[EF]", "drop", times=None),)),
]

SETS: dict[str, SlacDutFault] = {s.name: s for s in _SETS}
FAULTS = {s.name: f"{s.role} DUT: {s.description} [{s.requirement}]" for s in _SETS}
FAULT_ROLES = {s.name: s.role for s in _SETS}


def apply(bench: Any, role: str, endpoint: Any, node: str) -> None:
    """Make the SLAC machine of `endpoint`, our stack in the DUT seat as `role`, faulty as the bench's
    `--dut-fault` names of this module say. Nothing happens for a node without SLAC."""
    chosen = [SETS[n] for n in sorted(bench.dut_faults) if n in SETS and SETS[n].role == role]
    machine = getattr(endpoint, "slac", None)
    if not chosen or machine is None:
        return
    faults: list[SlacFault] = []
    for fault in chosen:
        machine.overrides.update(fault.overrides)
        for key, value in fault.config.items():
            setattr(machine.config, key, value)
        for key, value in fault.endpoint.items():
            setattr(endpoint, key, value)
        faults += fault.faults
    if faults:
        endpoint.slac = SlacFaultInjector(machine, faults)
