"""Rigs: one TOML file per test bench (`rigs/NAME.toml`), validated before any test runs.

A rig says which clock the bench runs on, what our stack plays (`evse`, `pev`, or `per-test`), what the DUT is,
which driver serves each kind of resource (`[cp] driver = ...`, `[plc] transport = ...`, with that driver's
options) and the safety `[limits]`. Problems are reported all at once, each naming file, key path and problem:

    rigs/ioniq.toml: cp.channel: expected an integer, got "one"

`--rig NAME` looks for `NAME.toml` in `$CCS_HIL_RIGS` (os.pathsep-separated), `<rootdir>/rigs`, `./rigs` and the
`rigs/` folder of the ccs-hil checkout; `--rig path/to/file.toml` loads that file.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import drivers
from harness.options import Opt, RigError, validate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PACKAGE_RIGS = Path(__file__).resolve().parent.parent / "rigs"
STACK_ROLES = ("evse", "pev", "per-test")
DUT_KINDS = ("vehicle", "charger", "simulated", "our-stack", "josev-secc", "josev-evcc")
# DUT kinds that fix what our stack plays: a car DUT needs our EVSE, a charger DUT our PEV (harness/josev.py)
_STACK_ROLE_FOR = {"vehicle": "evse", "charger": "pev", "josev-evcc": "evse", "josev-secc": "pev"}

RIG_TABLE = {
    "name": Opt(str, required=True, doc="the rig's name, as given to --rig"),
    "description": Opt(str, default=""),
    "clock": Opt(str, default="monotonic", choices=("virtual", "monotonic"),
                 doc="virtual: simulated time (sim only); monotonic: real time"),
    "stack_role": Opt(str, required=True, choices=STACK_ROLES, doc="what our stack plays"),
    "time_scale": Opt(float, default=1.0, min=0.001, doc="multiplies simulated reaction delays"),
    "capabilities": Opt(list, default=[], items=str, doc="extra capabilities the bench has (e.g. 'operator')"),
    "requires": Opt(list, default=[], items=str, doc="what the host must give: 'root' (namespaces, raw sockets)"),
}
DUT_TABLE = {
    "kind": Opt(str, required=True, choices=DUT_KINDS, doc="what the device under test is"),
    "name": Opt(str, default="", doc="make, model, firmware"),
    "identification": Opt(dict, default={}, doc="free-form: vin, evcc_id, mac, serial, ..."),
    "max_current_a": Opt(float, min=0, doc="the current limit the DUT is configured for (charger tests)"),
    "hlc": Opt(bool, default=False, doc="the DUT does high-level communication (ISO 15118 / DIN 70121)"),
}
LIMITS_TABLE = {
    "max_current_a": Opt(float, min=0, doc="never offer more current than this (cable, bench)"),
    "max_dc_voltage_v": Opt(float, min=0, doc="never request/offer more DC voltage than this"),
    "max_dc_current_a": Opt(float, min=0, doc="never request/offer more DC current than this"),
    "max_power_kw": Opt(float, min=0),
}


class UnknownRig(LookupError):
    def __init__(self, name: str, available: dict[str, Path]) -> None:
        self.name, self.available = name, available
        names = ", ".join(sorted(available)) or "none found"
        super().__init__(f"unknown rig {name!r} (available: {names}; or give a path to a .toml file)")


@dataclass(frozen=True)
class Section:
    """One resource table: its driver name and validated options."""

    kind: str
    driver: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Rig:
    name: str
    path: Path
    description: str
    clock: str
    stack_role: str
    time_scale: float
    dut: dict[str, Any]
    limits: dict[str, Any]
    sections: dict[str, Section] = field(default_factory=dict)
    extra_capabilities: frozenset[str] = frozenset()
    requires: frozenset[str] = frozenset()

    @property
    def dut_role(self) -> str | None:
        """The DUT's role when the rig fixes it, None when it is chosen per test."""
        return {"evse": "pev", "pev": "evse"}.get(self.stack_role)

    @property
    def simulated_dut(self) -> bool:
        return self.dut["kind"] == "simulated"

    def section(self, kind: str) -> Section | None:
        return self.sections.get(kind)

    def capabilities(self) -> set[str]:
        """What the rig offers, from its drivers' declarations (nothing is opened)."""
        caps = set(self.extra_capabilities)
        for section in self.sections.values():
            spec = drivers.lookup(section.kind, section.driver)
            if spec is not None:
                caps |= spec.capabilities(section.options)
        return caps

    def summary(self) -> str:
        parts = [f"{s.kind}={s.driver}" for s in self.sections.values()]
        return f"{self.name}: {self.description} [{self.clock} clock; {', '.join(parts)}]"


def rig_dirs(rootdir: Path | None = None) -> list[Path]:
    candidates: list[Path] = [Path(p) for p in os.environ.get("CCS_HIL_RIGS", "").split(os.pathsep) if p]
    if rootdir is not None:
        candidates.append(Path(rootdir) / "rigs")
    candidates += [Path.cwd() / "rigs", PACKAGE_RIGS]
    seen, out = set(), []
    for directory in candidates:
        resolved = directory.resolve()
        if resolved not in seen and resolved.is_dir():
            seen.add(resolved)
            out.append(resolved)
    return out


def available_rigs(dirs: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in dirs:
        for path in sorted(directory.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def resolve(spec: str, rootdir: Path | None = None) -> Path:
    """`--rig` value → file. A value ending in .toml or containing a path separator is a path."""
    if spec.endswith(".toml") or os.sep in spec or (os.altsep and os.altsep in spec):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise RigError(str(path), [("", "no such rig file")])
        return path.resolve()
    available = available_rigs(rig_dirs(rootdir))
    if spec not in available:
        raise UnknownRig(spec, available)
    return available[spec]


def load(spec: str | Path, rootdir: Path | None = None) -> Rig:
    path = resolve(str(spec), rootdir)
    try:
        display = str(path.relative_to(Path.cwd()))
    except ValueError:
        display = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise RigError(display, [("", f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise RigError(display, [("", f"cannot read: {exc.strerror}")]) from None
    return from_dict(data, display, path)


def from_dict(data: dict[str, Any], source: str, path: Path | None = None) -> Rig:
    """Validate a parsed rig file; raise `RigError` listing every problem."""
    problems: list[tuple[str, str]] = []
    known_tables = {"rig", "dut", "limits", *drivers.KINDS}
    for key in data:
        if key not in known_tables:
            problems.append((key, f"unknown table (known: {', '.join(sorted(known_tables))})"))
    if "rig" not in data:
        problems.append(("rig", "missing table [rig] (name, stack_role, clock, ...)"))
    if "dut" not in data:
        problems.append(("dut", "missing table [dut] (kind, name, ...)"))
    rig = validate(data.get("rig", {}), RIG_TABLE, "rig", problems)
    dut = validate(data.get("dut", {}), DUT_TABLE, "dut", problems)
    limits = validate(data.get("limits", {}), LIMITS_TABLE, "limits", problems)
    sections: dict[str, Section] = {}
    for kind, info in drivers.KINDS.items():
        if kind in data:
            section = _validate_section(kind, info.key, data[kind], problems)
            if section is not None:
                sections[kind] = section
    _check_consistency(rig, dut, sections, problems)
    if problems:
        raise RigError(source, problems)
    return Rig(name=rig["name"], path=path or Path(source), description=rig["description"], clock=rig["clock"],
               stack_role=rig["stack_role"], time_scale=rig["time_scale"], dut=dut, limits=limits,
               sections=sections, extra_capabilities=frozenset(rig["capabilities"]),
               requires=frozenset(rig["requires"]))


def _validate_section(kind: str, key: str, table: Any, problems: list[tuple[str, str]]) -> Section | None:
    if not isinstance(table, dict):
        problems.append((kind, f"expected a table, got {table!r}"))
        return None
    name = table.get(key)
    known = drivers.names(kind)
    if name is None:
        problems.append((f"{kind}.{key}", f"missing (which {kind} driver: {', '.join(known)})"))
        return None
    spec = drivers.lookup(kind, name) if isinstance(name, str) else None
    if spec is None:
        problems.append((f"{kind}.{key}", f"unknown {kind} driver {name!r} (known: {', '.join(known)})"))
        return None
    before = len(problems)
    options = validate({k: v for k, v in table.items() if k != key}, spec.options, kind, problems)
    if spec.check is not None and len(problems) == before:
        problems.extend(spec.check(options))
    return Section(kind, name, options)


def _check_consistency(rig: dict[str, Any], dut: dict[str, Any], sections: dict[str, Section],
                       problems: list[tuple[str, str]]) -> None:
    role, kind = rig.get("stack_role"), dut.get("kind")
    wanted = _STACK_ROLE_FOR.get(kind or "")
    if wanted is not None and role not in (None, wanted):
        problems.append(("rig.stack_role", f"a {kind} DUT needs our stack as {wanted}, not {role!r}"))
    if rig.get("clock") == "virtual":
        for section in sections.values():
            spec = drivers.lookup(section.kind, section.driver)
            if spec is not None and not spec.simulated:
                key = drivers.KINDS[section.kind].key
                problems.append((f"{section.kind}.{key}", f"{section.driver!r} drives real hardware, which cannot "
                                 "run on the virtual clock (use clock = \"monotonic\")"))
