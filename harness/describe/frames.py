"""Describe Ethernet frames on the PLC interface (HomePlug AV/GP management messages, ethertype 0x88E1)."""

from __future__ import annotations

from typing import Any

HOMEPLUG_ETHERTYPE = 0x88E1


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def describe_frame(frame: bytes) -> dict[str, Any]:
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
    return {"layer": "homeplug", "name": f"MME 0x{mmtype:04x}", **fields, "mmtype": mmtype, "raw": frame.hex()}
