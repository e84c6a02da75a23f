"""The dict form of V2G messages, as `stack.exi` encodes and decodes them, and small helpers to build and read it.

A DIN / ISO 15118-2 message is `{"V2G_Message": {"Header": {"SessionID": "<hex>"}, "Body": {"<Name>": {...}}}}`;
the handshake is `{"supportedAppProtocolReq": {...}}`. Element names are the XSD's; hexBinary values are lowercase
hex strings; lists are always lists where the schema allows more than one. Physical values are
`{"Multiplier": m, "Unit": "V", "Value": v}` meaning v × 10^m.
"""

from __future__ import annotations

import copy
import math
from typing import Any

Message = dict[str, Any]

SHORT_MIN, SHORT_MAX = -32768, 32767


def v2g(session_id: str, name: str, body: dict[str, Any] | None = None, **header: Any) -> Message:
    return {"V2G_Message": {"Header": {"SessionID": session_id, **header}, "Body": {name: body or {}}}}


def name_of(message: Message) -> str:
    """The message element name (`SessionSetupReq`, `supportedAppProtocolRes`); "" when it is not a message."""
    try:
        if "V2G_Message" in message:
            body = message["V2G_Message"]["Body"]
            return next(iter(body)) if body else ""
        return next(iter(message))
    except (TypeError, KeyError, StopIteration, AttributeError):
        return ""


def body_of(message: Message) -> dict[str, Any]:
    name = name_of(message)
    if "V2G_Message" in message:
        return message["V2G_Message"]["Body"].get(name) or {}
    return message.get(name) or {}


def session_id_of(message: Message) -> str | None:
    try:
        return message["V2G_Message"]["Header"]["SessionID"].lower()
    except (KeyError, TypeError, AttributeError):
        return None


def pair_of(name: str) -> str:
    """`CableCheckReq` -> `CableCheck` (the request/response pair a message belongs to)."""
    if name.endswith(("Req", "Res")):
        return name[:-3]
    return name


def response_code(message: Message) -> str | None:
    return body_of(message).get("ResponseCode")


# --------------------------------------------------------------------------- physical values


def pv(value: float, unit: str | None, multiplier: int | None = None) -> dict[str, Any]:
    """A PhysicalValueType for `value` in `unit`, choosing the smallest multiplier (−3..3) whose Value fits a
    short with the most precision."""
    if multiplier is None:
        multiplier = 3
        for m in range(-3, 4):
            if SHORT_MIN <= round(value / 10**m) <= SHORT_MAX:
                multiplier = m
                break
    raw = max(SHORT_MIN, min(SHORT_MAX, round(value / 10**multiplier)))
    out: dict[str, Any] = {"Multiplier": multiplier, "Value": raw}
    if unit is not None:
        out["Unit"] = unit
    return out


def pv_value(physical: dict[str, Any] | None, default: float = math.nan) -> float:
    """The number a PhysicalValueType stands for (`default` when absent or malformed)."""
    if not isinstance(physical, dict):
        return default
    try:
        return float(physical["Value"]) * 10 ** int(physical.get("Multiplier", 0))
    except (KeyError, TypeError, ValueError):
        return default


# --------------------------------------------------------------------------- paths (used by faults and tests)


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.split("."):
        if piece.isdigit():
            parts.append(int(piece))
        else:
            parts.append(piece)
    return parts


def get_path(message: Message, path: str, default: Any = None) -> Any:
    """Read a field by dotted path. Paths start at the body (`DC_EVSEStatus.EVSEStatusCode`), or at the root
    when they start with `V2G_Message`/`Header` (`Header.SessionID`)."""
    node: Any = _root_for(message, path)
    for part in _split(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def set_path(message: Message, path: str, value: Any) -> Message:
    """A copy of `message` with the field at `path` set (created when missing); `value` None removes it."""
    out = copy.deepcopy(message)
    node: Any = _root_for(out, path)
    parts = _split(path)
    for part in parts[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
    last = parts[-1]
    if value is None:
        if isinstance(node, dict):
            node.pop(last, None)
    else:
        node[last] = value
    return out


def _root_for(message: Message, path: str) -> Any:
    if path.startswith("V2G_Message") or "V2G_Message" not in message:
        return message
    if path.startswith("Header"):
        return message["V2G_Message"]
    body = message["V2G_Message"]["Body"]
    name = name_of(message)
    if not isinstance(body.get(name), dict):
        body[name] = {}  # an empty body ({} or None) becomes the dict we write into
    return body[name]

