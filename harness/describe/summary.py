"""One readable line of "the values that matter" for a record body (decode output, live evse/pev logs).

V2G messages carry physical values as {Multiplier, Unit, Value}; they read as `EVTargetVoltage=400V`. Nested
status blocks are flattened to their leaf names (`EVRESSSOC=93`). Lists show their length unless short.
"""

from __future__ import annotations

from typing import Any

_SKIP = {"Header", "Notification", "Signature", "EVSETimeStamp", "debug"}
_MAX_ITEMS = 12


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
    elif node is not None:
        text = str(node)
        out.append((name, text if len(text) <= 40 else text[:37] + "..."))


def message_of(body: Any, name: str) -> Any:
    """The message element inside an EXI body (`V2G_Message/Body/<name>` for DIN/ISO-2, the root otherwise)."""
    if isinstance(body, dict) and "V2G_Message" in body:
        return body["V2G_Message"].get("Body", {}).get(name, body["V2G_Message"].get("Body"))
    if isinstance(body, dict) and name in body:
        return body[name]
    return body


def summarize(record: dict[str, Any]) -> str:
    """`key=value` pairs for the body of a record dict, message element unwrapped."""
    body = record.get("body")
    if body is None:
        return ""
    pairs: list[tuple[str, str]] = []
    _leaves(message_of(body, record.get("name", "")), record.get("name", ""), pairs)
    return " ".join(f"{k}={v}" for k, v in pairs)
