"""One readable line of "the values that matter" for a record body (decode output, live evse/pev logs).

V2G messages carry physical values as {Multiplier, Unit, Value}; they read as `EVTargetVoltage=400V`. Nested
status blocks are flattened to their leaf names (`EVRESSSOC=93`). Lists show their length unless short. Status
fields that hold their everything-is-normal value (`EVErrorCode=NO_ERROR`, `EVSENotification=None`) are left out;
they appear as soon as they say something. HomePlug messages show the fields a SLAC reader looks for (RunID,
MACs, sounds, attenuation, NID/NMK, results) rather than every reserved byte.
"""

from __future__ import annotations

from typing import Any

_SKIP = {"Header", "Notification", "Signature", "EVSETimeStamp", "debug", "_trailer", "RSVD", "Reserved", "Tail"}
_MAX_ITEMS = 14
# value a field has when there is nothing to say
_QUIET: dict[str, Any] = {"EVSENotification": "None", "NotificationMaxDelay": 0, "EVCabinConditioning": False,
                          "EVRESSConditioning": False, "EVErrorCode": "NO_ERROR", "ApplicationType": 0,
                          "SecurityType": 0}
_ZERO_IDS = ("EVID", "EVSEID", "SenderID", "SourceID", "ResponseID")

# HomePlug: the fields shown, in order (the rest of the body stays in --json)
_MME_FIELDS: dict[str, tuple[str, ...]] = {
    "CM_SLAC_PARM.REQ": ("RunID", "SecurityType"),
    "CM_SLAC_PARM.CNF": ("RunID", "ForwardingSTA", "NumberMSounds", "TimeOut", "MSoundTargetMAC"),
    "CM_START_ATTEN_CHAR.IND": ("RunID", "NumberOfSounds", "TimeOut", "ForwardingSTA"),
    "CM_MNBC_SOUND.IND": ("RunID", "Countdown"),
    "CM_ATTEN_PROFILE.IND": ("EVMACAddress", "NumberOfGroups", "Groups"),
    "CM_ATTEN_CHAR.IND": ("RunID", "SourceAdress", "NumberOfSounds", "NumberOfGroups", "Groups"),
    "CM_ATTEN_CHAR.RSP": ("RunID", "SourceAdress", "Result"),
    "CM_SLAC_MATCH.REQ": ("RunID", "EVMAC", "EVSEMAC", "EVID", "EVSEID"),
    "CM_SLAC_MATCH.CNF": ("RunID", "EVMAC", "EVSEMAC", "NetworkID", "NMK"),
    "CM_SET_KEY.REQ": ("NetworkID", "NewKey", "NewEncKeySelect"),
    "CM_SET_KEY.CNF": ("Result",),
    "CM_GET_KEY.REQ": ("NetworkID", "RequestedKeyType"),
    "CM_GET_KEY.CNF": ("Result", "NetworkID", "Key"),
    "CM_VALIDATE.REQ": ("SignalType", "Timer", "Result"),
    "CM_VALIDATE.CNF": ("SignalType", "ToggleNum", "Result"),
    "VS_SW_VER.CNF": ("Status", "DeviceID", "Version"),
    "VS_ATTEN_CHAR.IND": ("PevMac",),
    "VS_SNIFFER.REQ": ("SnifferControl",),
    "VS_SNIFFER.CNF": ("Status",),
    "VS_SNIFFER.IND": ("Direction", "DelimiterType", "SNID", "STEI", "DTEI", "LID", "SystemTime"),
}


def physical_value(node: Any) -> str | None:
    """`{"Multiplier": 0, "Unit": "V", "Value": 400}` → `"400V"`; None when `node` is not a physical value."""
    if not isinstance(node, dict) or "Value" not in node or "Multiplier" not in node:
        return None
    value, multiplier = node["Value"], node["Multiplier"]
    if not isinstance(value, int) or not isinstance(multiplier, int):
        return None
    number = value * (10 ** multiplier)
    text = f"{number:g}" if isinstance(number, float) else str(number)
    return f"{text}{node.get('Unit', '') or ''}"


def _quiet(name: str, value: Any) -> bool:
    if name in _QUIET and _QUIET[name] == value and type(_QUIET[name]) is type(value):
        return True
    return name in _ZERO_IDS and isinstance(value, str) and not value.strip("0")


def _leaves(node: Any, name: str, out: list[tuple[str, str]]) -> None:
    if len(out) >= _MAX_ITEMS:
        return
    pv = physical_value(node)
    if pv is not None:
        out.append((name, pv))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in _SKIP:
                _leaves(value, key, out)
    elif isinstance(node, list):
        if len(node) <= 3 and all(not isinstance(v, (dict, list)) for v in node):
            out.append((name, ",".join(str(v) for v in node)))
        else:
            out.append((name, f"[{len(node)}]"))
    elif node is not None and not _quiet(name, node):
        text = str(node)
        out.append((name, text if len(text) <= 40 else text[:37] + "..."))


def message_of(body: Any, name: str) -> Any:
    """The message element inside an EXI body (`V2G_Message/Body/<name>` for DIN/ISO-2, the root otherwise)."""
    if isinstance(body, dict) and "V2G_Message" in body:
        return body["V2G_Message"].get("Body", {}).get(name, body["V2G_Message"].get("Body"))
    if isinstance(body, dict) and name in body:
        return body[name]
    return body


def _flat(body: dict[str, Any]) -> dict[str, Any]:
    """HomePlug bodies: nested variable fields (SLAC_MATCH) lifted to the top."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, dict):
            out.update(value)
        else:
            out[key] = value
    return out


def _mme_value(key: str, value: Any) -> str:
    if key == "Groups" and isinstance(value, list):
        if not value:
            return "none"
        numbers = [v for v in value if isinstance(v, int)]
        return f"[{len(value)}] mean {sum(numbers) / max(1, len(numbers)):.1f} dB" if numbers else f"[{len(value)}]"
    return str(value)


def _homeplug(record: dict[str, Any], body: dict[str, Any]) -> str:
    keys = _MME_FIELDS.get(record.get("name", ""))
    if keys is None:
        pairs: list[tuple[str, str]] = []
        _leaves(body, record.get("name", ""), pairs)
        return " ".join(f"{k}={v}" for k, v in pairs)
    flat = _flat(body)
    return " ".join(f"{k}={_mme_value(k, flat[k])}" for k in keys if k in flat and not _quiet(k, flat[k]))


def summarize(record: dict[str, Any]) -> str:
    """`key=value` pairs for the body of a record dict, message element unwrapped."""
    body = record.get("body")
    if body is None:
        return ""
    if record.get("layer") == "homeplug" and isinstance(body, dict):
        return _homeplug(record, body)
    pairs: list[tuple[str, str]] = []
    name = record.get("name", "")
    if name.startswith("SessionSetup") and isinstance(body, dict) and "V2G_Message" in body:
        session_id = body["V2G_Message"].get("Header", {}).get("SessionID")
        if session_id is not None:
            pairs.append(("SessionID", str(session_id)))
    _leaves(message_of(body, name), name, pairs)
    return " ".join(f"{k}={v}" for k, v in pairs)
