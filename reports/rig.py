"""What the report says about the rig: its name, file, description, clock and the DUT identification the rig file
gives. Read from `rigs/NAME.toml` (or the path given to `--rig`) without validating it — validation is the rig
loader's job (harness); a report must still be written when the rig file is odd or missing."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from reports.model import RigInfo

_SHOWN_SECTIONS = ("cp", "plc", "power", "limits")
_MAX_DETAILS = 16


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = ", ".join(str(v) for v in value if not isinstance(v, dict))
        else:
            out[name] = str(value)
    return out


def find_rig_file(name: str | None, root: Path) -> Path | None:
    """The rig file `--rig NAME|PATH` means (default `$CCS_HIL_RIG`, then `sim`), as the skeleton resolves it."""
    if not name:
        name = os.environ.get("CCS_HIL_RIG") or "sim"
    candidate = Path(name)
    if candidate.suffix == ".toml":
        return candidate if candidate.is_file() else (root / candidate if (root / candidate).is_file() else None)
    path = root / "rigs" / f"{name}.toml"
    return path if path.is_file() else None


def rig_info(name: str | None, root: Path) -> RigInfo:
    path = find_rig_file(name, Path(root))
    name = name or os.environ.get("CCS_HIL_RIG") or "sim"
    shown = path
    if path is not None:
        with contextlib.suppress(ValueError):
            shown = path.resolve().relative_to(Path(root).resolve())
    info = RigInfo(name=Path(name).stem, path=str(shown) if shown else None)
    if path is None:
        return info
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        info.description = f"(rig file not readable: {exc})"
        return info
    head = data.get("rig") if isinstance(data.get("rig"), dict) else data  # [rig] table, or top-level keys
    info.name = str(head.get("name", info.name))
    info.description = str(head.get("description", ""))
    clock = head.get("clock")
    info.clock = str(clock) if isinstance(clock, str) else None
    for key in ("stack_role",):
        if key in head and not isinstance(head[key], dict):
            info.details[f"rig.{key}"] = str(head[key])
    for section in _SHOWN_SECTIONS:  # the section's own settings; nested tables (sim tuning) stay in the file
        table = data.get(section)
        if isinstance(table, dict):
            for key, value in table.items():
                if not isinstance(value, dict) and len(info.details) < _MAX_DETAILS:
                    info.details[f"{section}.{key}"] = str(value)
    return info


def dut_from_rig(name: str | None, root: Path) -> dict[str, str]:
    """The `[dut]` table of the rig file, flattened (`vendor`, `model`, `vin`, `firmware`…)."""
    path = find_rig_file(name, Path(root))
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    dut = data.get("dut")
    if not isinstance(dut, dict):
        return {}
    return {k: v for k, v in _flatten(dut).items() if v not in ("", "None")}
