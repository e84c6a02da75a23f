"""Compare `ccs-hil decode --json` output with pyPLC's `*.decoded.txt` references (OpenV2G-based text).

The reference format and its artefacts are described in tests/data/captures/README.md. Each reference block is
one TCP segment carrying a V2GTP/EXI message; its keys are flattened element names relative to the message
(`DC_EVStatus.EVRESSSOC`, `EVTargetVoltage.Value`), `<Name>_isUsed` for optional elements, `<Name>.bytesLen` /
`.arrayLen` for lengths, `<Name>_text`/`…Text` for an enumeration's name. We map each key onto our dict form by
its path suffix, compare every value, and count what we skip and why:

- SAP blocks (the converter decodes everything as DIN, so the SupportedAppProtocol messages have no name);
- `Unit` = "h" (the converter's default for an absent/zero unit), and the zero Value/Multiplier it prints for an
  absent optional physical value with Unit "h";
- `.array` (an index:value rendering we do not reproduce; `.arrayLen` is compared) and the bookkeeping keys
  (`info`, `error`, `result`, `schema`, `g_errn`, `debug`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

_PACKET = re.compile(r"^Packet #(\d+) \[([^\]]+)\] ([0-9a-f]*) means:$")
_BOOKKEEPING = {"msgName", "info", "error", "result", "schema", "g_errn", "debug"}


@dataclass(frozen=True)
class Block:
    number: int
    stamp: str
    exi: str
    fields: dict[str, str]


def parse_reference(path: str | Path) -> list[Block]:
    """The recipe of captures/README.md: header line regex, then JSON up to the line `}`."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    out, i = [], 0
    while i < len(lines):
        match = _PACKET.match(lines[i])
        i += 1
        if not match:
            continue
        block = []
        while i < len(lines) and lines[i] != "}":
            block.append(lines[i])
            i += 1
        block.append("}")
        i += 1
        out.append(Block(int(match.group(1)), match.group(2), match.group(3), json.loads("\n".join(block))))
    return out


@cache
def _enums() -> tuple[tuple[str, ...], ...]:
    """Every enumeration of the DIN and ISO-2 grammars (the reference prints most enums as their index)."""
    from stack.exi import _meta

    found = set()
    for schema in ("din", "iso2"):
        for spec in _meta(schema)["types"].values():
            simple = spec.get("simple")
            if simple and simple[0] == "enum":
                found.add(tuple(simple[5]))
    return tuple(sorted(found))


def _leaves(node: Any, path: tuple[str, ...], out: list[tuple[tuple[str, ...], Any]]) -> None:
    out.append((path, node))
    if isinstance(node, dict):
        for key, value in node.items():
            _leaves(value, path + (key,), out)
    elif isinstance(node, list):
        for item in node:
            _leaves(item, path, out)


def _same(ours: Any, want: str) -> bool:
    if isinstance(ours, bool):
        return want in (("1", "True", "true") if ours else ("0", "False", "false"))
    if isinstance(ours, int):
        return str(ours) == want
    if isinstance(ours, str):
        if ours.lower() == want.lower():
            return True
        if want.lstrip("-").isdigit():  # enumeration printed as its index
            return any(ours in values and values.index(ours) == int(want) for values in _enums())
    return False


@dataclass
class Agreement:
    blocks: int = 0
    matched: int = 0
    retransmissions: int = 0
    names_agree: int = 0
    compared: int = 0
    agreed: int = 0
    timestamps_agree: int = 0
    skipped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def add(self, other: Agreement) -> None:
        for key in ("blocks", "matched", "retransmissions", "names_agree", "compared", "agreed", "timestamps_agree"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.skipped.update(other.skipped)
        self.problems += other.problems


def _check(key: str, want: str, content: dict[str, Any], header: dict[str, Any], result: Agreement, where: str,
           block: dict[str, str]) -> None:
    leaves: list[tuple[tuple[str, ...], Any]] = []
    if key.startswith("header."):
        key, scope = key[len("header."):], header
    else:
        scope = content
    _leaves(scope, (), leaves)

    def found(parts: tuple[str, ...]) -> list[Any]:
        return [v for p, v in leaves if len(p) >= len(parts) and p[-len(parts):] == parts]

    def verdict(ok: bool, detail: str) -> None:
        result.compared += 1
        if ok:
            result.agreed += 1
        else:
            result.problems.append(f"{where}: {key}: reference {want!r}, {detail}")

    if key.endswith("_isUsed"):
        present = bool(found(tuple(key[:-len("_isUsed")].split("."))))
        verdict(present == (want in ("1", "True")), f"element {'present' if present else 'absent'}")
        return
    if key.endswith((".array",)):
        result.skipped[".array rendering"] += 1
        return
    for suffix, target in (("_text", ""), ("_Text", ""), ("CodeText", "Code")):
        if key.endswith(suffix):
            name = key[:-len(suffix)] + target
            name = name[3:] if name.startswith("DC_") and name != "DC_EVSEStatus" else name
            values = found((name,))
            verdict(any(_same(v, want) for v in values), f"decoded {values!r}")
            return
    if key.endswith(".bytesLen"):
        values = [v for v in found(tuple(key[:-len(".bytesLen")].split("."))) if isinstance(v, str)]
        verdict(any(len(v) // 2 == int(want) for v in values), f"decoded {values!r}")
        return
    if key.endswith(".arrayLen"):
        values = found(tuple(key[:-len(".arrayLen")].split(".")))
        size = next((len(v) for v in values if isinstance(v, list)), 1 if values else 0)
        verdict(size == int(want), f"decoded {values!r}")
        return
    parts = tuple(key.split("."))
    values = found(parts)
    if parts[-1] == "Unit" and want == "h":
        result.skipped["Unit 'h' artefact"] += 1
        return
    if not values and parts[-1] in ("Value", "Multiplier", "Unit") and want in ("0", "h"):
        owner = parts[:-1]
        if not found(owner):
            result.skipped["absent optional physical value printed as zeros"] += 1
            return
    if not values and block.get(key + "_isUsed") in ("0", "False"):
        result.skipped["value printed for an unused optional element"] += 1
        return
    verdict(any(_same(v, want) for v in values), f"decoded {values!r}" if values else "no such field decoded")


def compare(records: list[dict[str, Any]], reference: list[Block], label: str) -> Agreement:
    """Match each reference block to our exi record with the same EXI bytes at the same capture time, and compare.

    The reference prints local time without a zone: the offset (whole quarter hours) is taken from the first
    block. A block with no record at its time but the same bytes earlier is a TCP retransmission, which the
    converter shows again and our reassembly (rightly) does not."""
    result = Agreement(blocks=len(reference))
    by_payload: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record["layer"] == "exi":
            by_payload.setdefault(record.get("raw", "")[16:], []).append(record)
    offset = None
    for block in reference:
        where = f"{label} #{block.number}"
        local = _local(block.stamp)
        candidates = by_payload.get(block.exi, [])
        if offset is None and candidates:
            offset = round((local - candidates[0]["t"]) / 900) * 900
        target = local - (offset or 0)
        record = next((r for r in candidates if abs(r["t"] - target) < 1e-3), None)
        if record is None:
            if any(r["t"] < target for r in candidates):
                result.retransmissions += 1
            else:
                result.problems.append(f"{where}: no exi record carries {block.exi[:24]}… at {block.stamp}")
            continue
        result.matched += 1
        result.timestamps_agree += 1
        if block.fields.get("msgName", "") == "" and block.exi[:4] in ("8000", "8040"):
            result.skipped["SAP block (decoded as DIN by the converter)"] += 1
            if record["schema"] != "apphand":
                result.problems.append(f"{where}: SAP message decoded as {record['schema']}")
            continue
        name_ok = block.fields["msgName"] == record["name"]
        result.names_agree += name_ok
        if not name_ok:
            result.problems.append(f"{where}: msgName {block.fields['msgName']} vs {record['name']}")
            continue
        message = record["body"]["V2G_Message"]
        content, header = message["Body"][record["name"]], message["Header"]
        for key, want in block.fields.items():
            if key in _BOOKKEEPING:
                continue
            _check(key, want, content, header, result, where, block.fields)
    return result


def _local(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
