"""Response-time limits the report draws next to each measured exchange.

The report asks: how long did the responder take, and what is the longest the requester is allowed to wait? The
answer comes from the stack's own timers through `harness.checks.response_limit` — the `SequenceTable` of
`stack.sessions` (V2G_EVCC_Msg_Timeout per request: DIN SPEC 70121 Table 75, ISO 15118-2 Table 109), `stack.sdp.SDP_REQ`
and `stack.homeplug.timers` (TT_match_response for SLAC; TT_modem_response host↔modem) — the same lookup the
catalogue's assertions and `ccs-hil analyse` use, so the lines drawn here cannot disagree with a verdict. A record
may also carry its own `limit` in seconds and `limit_name`, which then wins (see `reports.analysis`).
"""

from __future__ import annotations

from harness.checks import response_limit
from harness.records import Record
from stack.homeplug.timers import TT_match_response
from stack.sdp import SDP_REQ
from stack.timers import SpecTimer

TT_MATCH_RESPONSE = TT_match_response
SDP_TIMEOUT = SDP_REQ


def exi_limit(schema: str | None, request: str) -> SpecTimer | None:
    """V2G_EVCC_Msg_Timeout for a request element name (`CurrentDemandReq`, `supportedAppProtocolReq`)."""
    return response_limit(Record(0.0, "exi", request, schema=schema))


def homeplug_limit(request_mmtype: int) -> SpecTimer | None:
    return response_limit(Record(0.0, "homeplug", "", mmtype=request_mmtype))


def sdp_limit() -> SpecTimer:
    return SDP_REQ
