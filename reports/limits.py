"""Response-time limits the report draws next to each measured exchange.

The report asks: how long did the responder take, and what is the longest the requester is allowed to wait? For
V2G messages that is V2G_EVCC_Msg_Timeout of the request (DIN SPEC 70121 9.6.2 Table 75, ISO 15118-2 Table 109,
ISO 15118-20; values as Josev's timeouts.py carries them, see ../shared/PROTOCOL.md §D.1); for SLAC the ISO 15118-3
TT_match_response; for SDP the 250 ms SDP request timeout. The catalogue's assertions decide verdicts with the
stack's own timers; this table only draws the lines (a record may also carry its own `limit` in seconds and
`limit_name`, which then wins — so an assertion that knows better can say so).
"""

from __future__ import annotations

from stack.timers import SpecTimer

_DIN = "DIN SPEC 70121:2014 Table 75"
_ISO2 = "ISO 15118-2:2014 Table 109"
_ISO20 = "ISO 15118-20:2022 Table 220"

# request stem -> seconds, per schema; anything not listed is 2 s (the general V2G_EVCC_Msg_Timeout)
_EXI_SPECIAL: dict[str, dict[str, float]] = {
    "din": {"CurrentDemand": 0.25},
    "iso2": {"CurrentDemand": 0.25, "ChargingStatus": 2.0, "PowerDelivery": 5.0, "ServiceDetail": 5.0,
             "PaymentDetails": 5.0, "CertificateInstallation": 5.0, "CertificateUpdate": 5.0},
    "iso20": {"AC_ChargeLoop": 0.5, "DC_ChargeLoop": 0.5, "ServiceDetail": 5.0, "CertificateInstallation": 5.0},
}
_SOURCES = {"din": _DIN, "iso2": _ISO2, "iso20": _ISO20, "iso20_dc": _ISO20, "iso20_ac": _ISO20,
            "apphand": "ISO 15118-2 / DIN 70121 (SupportedAppProtocol)"}

TT_MATCH_RESPONSE = SpecTimer("TT_match_response", 0.2, "ISO 15118-3 Table A.1 (pyslac SLAC_RESP_TIMEOUT)")
SDP_TIMEOUT = SpecTimer("V2G_EVCC_SDP_Timeout", 0.25, "ISO 15118-2 [V2G2-162] SDP request timeout (Josev)")


def exi_limit(schema: str | None, request: str) -> SpecTimer | None:
    """V2G_EVCC_Msg_Timeout for a request element name (`CurrentDemandReq`, `supportedAppProtocolReq`)."""
    stem = request[:-3] if request.endswith("Req") else request
    key = (schema or "").split("_")[0] if schema and schema.startswith("iso20") else (schema or "")
    name = f"V2G_EVCC_Msg_Timeout_{request}"
    if key == "apphand" or stem == "supportedAppProtocol":
        return SpecTimer(name, 2.0, _SOURCES["apphand"])
    if key not in _EXI_SPECIAL:
        return None
    return SpecTimer(name, _EXI_SPECIAL[key].get(stem, 2.0), _SOURCES.get(key, ""))


# HomePlug request MMTYPE (REQ or IND) -> the timer the requester waits with
_SLAC_WAITS = {0x6064: TT_MATCH_RESPONSE, 0x607C: TT_MATCH_RESPONSE, 0x6078: TT_MATCH_RESPONSE,
               0x606E: TT_MATCH_RESPONSE}


def homeplug_limit(request_mmtype: int) -> SpecTimer | None:
    return _SLAC_WAITS.get(request_mmtype)


def sdp_limit() -> SpecTimer:
    return SDP_TIMEOUT
