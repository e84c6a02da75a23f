"""ISO 15118-3 SLAC timers and counters, named as the standard names them (values: PROTOCOL.md §B).

Every wait in the SLAC machines uses one of these. `TT_modem_response` is ours, not the standard's: how long we
wait for the local modem to answer a management request (the standard does not bound host↔modem exchanges).
"""

from __future__ import annotations

from stack.timers import SpecTimer

_ISO = "ISO 15118-3 Table A.1 via PROTOCOL.md §B"

TT_EVSE_SLAC_init = SpecTimer("TT_EVSE_SLAC_init", 50.0, f"{_ISO} (20–50 s; pyslac default 50 s)")
TT_match_sequence = SpecTimer("TT_match_sequence", 0.4, _ISO)
TT_match_response = SpecTimer("TT_match_response", 0.2, _ISO)
TT_EV_atten_results = SpecTimer("TT_EV_atten_results", 1.2, _ISO)
TT_EVSE_match_MNBC = SpecTimer("TT_EVSE_match_MNBC", 0.6, f"{_ISO}; Time_Out field 6 × 100 ms")
TT_EVSE_match_session = SpecTimer("TT_EVSE_match_session", 10.0, _ISO)
TT_matching_repetition = SpecTimer("TT_matching_repetition", 10.0, _ISO)
TT_matching_rate = SpecTimer("TT_matching_rate", 0.4, _ISO)
T_step_EF = SpecTimer("T_step_EF", 4.0, f"{_ISO} (min 4 s)")
T_step_X1 = SpecTimer("T_step_X1", 3.0, "IEC 61851-1 X1 step of wake-up and error sequences as EVerest's T_STEP_X1 "
                      "(3 s; clause not cited): ccs-hil working value")
TP_EV_batch_msg_interval = SpecTimer("TP_EV_batch_msg_interval", 0.02, f"{_ISO} (20–50 ms)")
TT_match_join = SpecTimer("TT_match_join", 12.0, "ISO 15118-3 [unverified in PROTOCOL.md] max 12 s")
TT_modem_response = SpecTimer("TT_modem_response", 1.0, "ccs-hil: local modem management answer")
T_link_poll = SpecTimer("T_link_poll", 0.1, "ccs-hil: VS_PL_LNK_STATUS polling period during the join check")

C_EV_match_retry = 2  # retries of CM_SLAC_PARM.REQ / CM_SLAC_MATCH.REQ (→ 3 sends, as the Taycan did)
C_EV_start_atten_char_inds = 3
C_EV_match_MNBC = 10  # NUM_SOUNDS
C_sequ_retry = 2  # EVSE: E/F → 5 % retries without CM_SLAC_PARM.REQ
C_conn_max_match = 3  # matching attempts
C_EVSE_atten_char_retry = 2  # EVSE re-sends of CM_ATTEN_CHAR.IND without .RSP (the Compleo sent 3)

ALL_TIMERS = [TT_EVSE_SLAC_init, TT_match_sequence, TT_match_response, TT_EV_atten_results, TT_EVSE_match_MNBC,
              TT_EVSE_match_session, TT_matching_repetition, TT_matching_rate, T_step_EF, T_step_X1, TP_EV_batch_msg_interval,
              TT_match_join, TT_modem_response, T_link_poll]
