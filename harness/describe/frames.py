"""Describe Ethernet frames on the PLC interface (HomePlug AV/GP management messages, ethertype 0x88E1).

Uses the stack's strict MME layers, so a record names the message (`CM_SLAC_PARM.REQ`), carries `mmtype` and the
decoded body fields; frames that do not parse keep `raw` and say why in `error`. Never raises.
"""

from __future__ import annotations

from typing import Any

from stack.errors import MalformedInput
from stack.homeplug import frames as f

HOMEPLUG_ETHERTYPE = f.ETHERTYPE_HOMEPLUG


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _text(hex_value: str) -> str:
    try:
        return bytes.fromhex(hex_value).split(b"\x00")[0].decode("ascii", "replace")
    except ValueError:
        return hex_value


def describe_frame(frame: bytes) -> dict[str, Any]:
    try:
        return _describe(frame)
    except Exception as exc:  # a describer must never take the timeline down
        return {"layer": "homeplug", "name": "?", "error": f"describer failed: {exc!r}", "raw": frame.hex()}


def _describe(frame: bytes) -> dict[str, Any]:
    if len(frame) < 14:
        return {"layer": "homeplug", "name": "?", "error": f"frame of {len(frame)} bytes is shorter than an "
                "Ethernet header (14)", "raw": frame.hex()}
    fields: dict[str, Any] = {"src": _mac(frame[6:12]), "dst": _mac(frame[0:6])}
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype != HOMEPLUG_ETHERTYPE:
        return {"layer": "homeplug", "name": f"ethertype 0x{ethertype:04x}", **fields,
                "error": "not a HomePlug frame", "raw": frame.hex()}
    if len(frame) < 17:
        return {"layer": "homeplug", "name": "?", **fields, "error": "truncated HomePlug header", "raw": frame.hex()}
    mmtype = int.from_bytes(frame[15:17], "little")
    fields.update(name=f.mme_name(mmtype), mmtype=mmtype)
    try:
        mme = f.parse_frame(frame)
    except MalformedInput as exc:
        return {"layer": "homeplug", **fields, "error": str(exc), "raw": frame.hex()}
    body = mme.fields()
    if mmtype == f.VS_SW_VER | f.CNF and isinstance(body.get("Version"), str):
        body["Version"] = _text(body["Version"])  # a firmware name: ASCII, NUL-terminated (raw keeps the bytes)
    if mmtype == f.VS_SNIFFER | f.IND and isinstance(body.get("FrameControl"), str):
        body.update(f.frame_control(bytes.fromhex(body["FrameControl"])))
        body["Direction"] = {0: "Tx", 1: "Rx"}.get(body["Direction"], body["Direction"])
        if not body.get("BeaconBody", "").strip("0"):
            body.pop("BeaconBody", None)
    if mme.padding.strip(b"\x00"):
        body["_trailer"] = mme.padding.hex()
    return {"layer": "homeplug", **fields, "body": body, "raw": frame.hex()}
