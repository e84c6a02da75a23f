"""Driver registry: `(kind, name) -> factory`, so adding an instrument is adding a module, not editing the bench.

A rig file has one table per kind of resource (`[cp]`, `[plc]`, ...); the table's discriminator key (`driver` for
`cp`, `transport` for `plc`, see `KINDS`) names the driver. The registry finds it:

1. drivers registered with `@register(kind, name, options=..., capabilities=...)`;
2. otherwise the module `harness.drivers.<kind>_<name>` (dashes become underscores) is imported, which registers;
3. otherwise modules named by the `ccs_hil.drivers` entry-point group (third-party drivers) are imported.

A factory is called as `factory(options, bench)` with the validated table (defaults filled in) and the per-test
`harness.bench.Bench`; it returns the resource object (for `cp`, a `harness.drivers.cp.CpLink`). `options` is the
driver's `harness.options.Opt` schema (checked when the rig loads). `capabilities(options)` says what the driver
gives a rig (e.g. `cp-generator`, `cp-measurement`) without touching hardware, so `needs(...)` can skip tests
before anything is opened.

`check(options)` (optional) returns `(key path, problem)` pairs for what an option schema cannot say (rig load
time). `startup(options, ctx)` (optional) runs the driver's start-up checks once per pytest session, before any
test (`harness.startup`): it returns `Check` results — what is missing skips the tests that need it, what is
wrong (another instrument, a wrongly configured adaptor, a level outside the rig's limits) aborts the run.

`declare()` registers a driver's options without a factory yet (a rig template may name it; building it then
skips the test with the reason) — used for drivers that later work will provide.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from harness.options import Opt

ENTRY_POINT_GROUP = "ccs_hil.drivers"


class ResourceUnavailable(RuntimeError):
    """What a test needs is not there (instrument absent, interface missing, driver not built): the test is skipped
    with `needs <need>: <why>`, never errored."""

    def __init__(self, need: str, why: str) -> None:
        self.need, self.why = need, why
        super().__init__(f"needs {need}: {why}")


class InstrumentError(RuntimeError):
    """An instrument is there but misbehaves (wrong identity, error reply, garbage): a rig problem, reported as an
    error naming the instrument and what it said."""


class InstrumentTimeout(InstrumentError):
    """An instrument did not answer within its timeout."""


class RigMismatch(InstrumentError):
    """The bench is not what the rig file says (another instrument answers, the adaptor has the other role's
    profile, a configured level is outside the rig's limits): running tests would be wrong or unsafe, so the
    start-up checks abort the run. `fix` says what to do."""

    def __init__(self, message: str, fix: str = "") -> None:
        self.fix = fix
        super().__init__(message + (f"\n  fix: {fix}" if fix else ""))


@dataclass(frozen=True)
class Check:
    """One start-up check's outcome. `action` when it failed: "skip" (what is missing: tests that need `need`
    are skipped with `message`) or "abort" (what is wrong: the run stops before any test). `fix` says what to do."""

    name: str
    ok: bool
    message: str
    action: str = ""
    need: str = ""
    fix: str = ""

    @classmethod
    def passed(cls, name: str, message: str) -> Check:
        return cls(name, True, message)

    @classmethod
    def missing(cls, name: str, need: str, message: str, fix: str = "") -> Check:
        return cls(name, False, message, "skip", need, fix)

    @classmethod
    def wrong(cls, name: str, message: str, fix: str = "") -> Check:
        return cls(name, False, message, "abort", "", fix)

    def raise_if_failed(self) -> None:
        if self.ok:
            return
        if self.action == "skip":
            raise ResourceUnavailable(self.need, f"{self.name}: {self.message}" + (f" (fix: {self.fix})" if self.fix
                                                                                  else ""))
        raise RigMismatch(f"{self.name}: {self.message}", self.fix)

    def line(self) -> str:
        mark = "ok" if self.ok else self.action.upper()
        return f"[{mark:5}] {self.name}: {self.message}" + (f"\n          fix: {self.fix}" if self.fix and not self.ok
                                                           else "")


@dataclass(frozen=True)
class Kind:
    name: str
    key: str  # the discriminator key in the rig table
    doc: str = ""


KINDS: dict[str, Kind] = {}


def add_kind(name: str, key: str, doc: str = "") -> None:
    """Declare a kind of resource a rig may have (`[name]` table, driver chosen by `key`)."""
    KINDS[name] = Kind(name, key, doc)


add_kind("cp", "driver", "control pilot instrument: generator (our EVSE side), load (our vehicle side) or both")
add_kind("plc", "transport", "HomePlug Green PHY link: in-process medium/modem emulator, or raw sockets on NICs")
add_kind("ip", "transport", "IPv6 for SDP/TCP: in-process fabric, or the kernel's sockets on an interface")
add_kind("power", "driver", "power stage stand-in for DC sessions: none (simulated) | bulb | scpi-supply")


@dataclass
class DriverSpec:
    kind: str
    name: str
    factory: Callable[[dict[str, Any], Any], Any] | None
    options: dict[str, Opt] = field(default_factory=dict)
    capabilities: Callable[[dict[str, Any]], set[str]] = lambda options: set()
    doc: str = ""
    simulated: bool = False  # touches no hardware, so it may run on the virtual clock
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None
    startup: Callable[[dict[str, Any], Any], list[Any]] | None = None


_REGISTRY: dict[tuple[str, str], DriverSpec] = {}
_entry_points_loaded = False


def _caps(capabilities: Iterable[str] | Callable[[dict[str, Any]], set[str]]) -> Callable[[dict[str, Any]], set[str]]:
    if callable(capabilities):
        return capabilities
    fixed = set(capabilities)
    return lambda options: set(fixed)


def register(kind: str, name: str, *, options: dict[str, Opt] | None = None,
             capabilities: Iterable[str] | Callable[[dict[str, Any]], set[str]] = (), doc: str = "",
             simulated: bool = False, check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None,
             startup: Callable[[dict[str, Any], Any], list[Any]] | None = None):
    """Decorator registering `factory(options, bench)` for `(kind, name)`."""

    def decorate(factory: Callable[[dict[str, Any], Any], Any]):
        declared = _REGISTRY.get((kind, name))
        merged = dict(declared.options) if declared else {}
        merged.update(options or {})
        first_line = next(iter((factory.__doc__ or "").strip().splitlines()), "")
        _REGISTRY[(kind, name)] = DriverSpec(kind, name, factory, merged, _caps(capabilities), doc or first_line,
                                             simulated or bool(declared and declared.simulated), check, startup)
        return factory

    return decorate


def declare(kind: str, name: str, *, options: dict[str, Opt] | None = None,
            capabilities: Iterable[str] | Callable[[dict[str, Any]], set[str]] = (), doc: str = "",
            simulated: bool = False) -> None:
    """Known options for a driver whose factory comes later (a registered factory takes precedence)."""
    if (kind, name) not in _REGISTRY:
        _REGISTRY[(kind, name)] = DriverSpec(kind, name, None, dict(options or {}), _caps(capabilities), doc,
                                             simulated)


def _module_name(kind: str, name: str) -> str:
    return f"harness.drivers.{kind}_{name.replace('-', '_')}"


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        entry.load()


def lookup(kind: str, name: str) -> DriverSpec | None:
    spec = _REGISTRY.get((kind, name))
    if spec is None or spec.factory is None:
        try:
            importlib.import_module(_module_name(kind, name))
        except ModuleNotFoundError as exc:
            if exc.name != _module_name(kind, name):
                raise
        _load_entry_points()
        spec = _REGISTRY.get((kind, name))
    return spec


def names(kind: str) -> list[str]:
    """Every driver name known for a kind (registered, declared, or a module following the naming rule)."""
    prefix = f"{kind}_"
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith(prefix):
            importlib.import_module(f"{__name__}.{info.name}")
    _load_entry_points()
    return sorted(n for k, n in _REGISTRY if k == kind)


def create(kind: str, name: str, options: dict[str, Any], bench: Any) -> Any:
    spec = lookup(kind, name)
    if spec is None:
        raise ResourceUnavailable(kind, f"no {kind} driver named {name!r} (known: {', '.join(names(kind))})")
    if spec.factory is None:
        raise ResourceUnavailable(kind, f"the {kind} driver {name!r} is not part of this ccs-hil version yet")
    return spec.factory(options, bench)
