"""A Bench is one test's view of the rig: the runner on the rig's clock, the timeline, and the resources the rig
file names (CP, later PLC, IP fabric, stack nodes), built lazily through the driver registry.

    bench = Bench(rig, dut_role="pev")
    bench.cp.set_current(16)                      # our EVSE-side generator (skips: needs cp-generator)
    bench.expect(lambda: bench.pilot_state == "C", T_EV_C_after_PWM, "vehicle in C")
    bench.close()                                  # safe() + release; the fixture does this on every exit path

Extension (later work): any rig table `[kind]` whose kind was declared with `harness.drivers.add_kind()` is
built by `bench.resource(kind)` from the driver its discriminator key names. A resource may offer `start()`
(called once after building), `attach(node, **kw)` (give a runner node its port), `safe()` and `close()`;
the bench calls them. Stack nodes join with `bench.add_node(node, attach={"plc": {}, "ip": {}, "cp": {"side":
"evse"}})`.

Nothing is opened until a test asks for it, so a CP test runs on a rig whose PLC adaptor is missing, and a
missing instrument skips only the tests that need it (`ResourceUnavailable` → `needs <what>: <why>`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import drivers, safety
from harness.clock import Clock, MonotonicClock, VirtualClock
from harness.drivers import InstrumentError, ResourceUnavailable
from harness.drivers.power import stage_name as power_stage_name
from harness.records import Record, Timeline
from harness.rig import Rig
from harness.runtime.runner import Node, Runner, RunResult
from stack.timers import SpecTimer

T_settle = SpecTimer("T_settle", 0.0, "ccs-hil: serve everything due at the current instant")
T_pilot_settle = SpecTimer("T_pilot_settle", 0.5, "ccs-hil: time for a pilot change to show in the measurement "
                           "(several poll intervals of a real instrument)")


class SessionResources:
    """Connections that live for the whole pytest session (VISA sessions, serial ports), opened on first use.

    A failure to open is remembered, so the next test skips at once instead of waiting for the same timeout."""

    def __init__(self) -> None:
        self._items: dict[Any, Any] = {}

    def get(self, key: Any, opener: Callable[[], Any]) -> Any:
        if key not in self._items:
            try:
                self._items[key] = opener()
            except (ResourceUnavailable, InstrumentError) as exc:
                self._items[key] = exc
        value = self._items[key]
        if isinstance(value, ResourceUnavailable):
            raise ResourceUnavailable(value.need, value.why)
        if isinstance(value, InstrumentError):
            raise type(value)(str(value))
        return value

    def close_all(self) -> None:
        """Close in reverse order of opening (an instrument before the emulator or namespace it runs on)."""
        for value in reversed(list(self._items.values())):
            if hasattr(value, "close") and not isinstance(value, BaseException):
                with contextlib.suppress(Exception):
                    value.close()
        self._items.clear()


@dataclass(frozen=True)
class DutInfo:
    """What the test knows about the device under test (from the rig's `[dut]` table and the test's role)."""

    role: str | None
    kind: str
    name: str
    max_current_a: float | None
    hlc: bool
    identification: dict[str, Any] = field(default_factory=dict)
    faults: frozenset[str] = frozenset()


def make_clock(rig: Rig) -> Clock:
    return VirtualClock() if rig.clock == "virtual" else MonotonicClock()


class Bench:
    def __init__(self, rig: Rig, *, dut_role: str | None = None, dut_faults: set[str] | frozenset[str] = frozenset(),
                 session: SessionResources | None = None, test_id: str | None = None, **info: Any) -> None:
        self.rig = rig
        self.dut_role = rig.dut_role if rig.stack_role != "per-test" else dut_role
        self.dut_faults = frozenset(dut_faults)
        self.clock = make_clock(rig)
        meta: dict[str, Any] = {"rig": rig.name, "test": test_id, "dut_role": self.dut_role,
                                "power_stage": power_stage_name(rig), **info}
        if self.dut_faults:
            meta["dut_faults"] = sorted(self.dut_faults)
        self.timeline = Timeline(self.clock.kind, self.clock.epoch, **meta)
        self.runner = Runner(self.clock, self.timeline, external_dut=rig.dut["kind"] in ("vehicle", "charger"))
        self.session = session if session is not None else SessionResources()
        self._owns_session = session is None
        self.test_id = test_id
        self._resources: dict[str, Any] = {}
        self._failures: dict[str, Exception] = {}
        self.closed = False
        safety.register(self, f"bench {test_id or rig.name}")

    # ------------------------------------------------------------------ what the rig offers

    @property
    def capabilities(self) -> set[str]:
        return self.rig.capabilities()

    @property
    def dut(self) -> DutInfo:
        d = self.rig.dut
        return DutInfo(self.dut_role, d["kind"], d["name"], d["max_current_a"], d["hlc"], dict(d["identification"]),
                       self.dut_faults)

    def resource(self, kind: str) -> Any:
        """The resource for rig table `[kind]`, built on first use (ResourceUnavailable when it cannot be)."""
        if kind in self._resources:
            return self._resources[kind]
        if kind in self._failures:
            failure = self._failures[kind]
            raise type(failure)(*failure.args) if not isinstance(failure, ResourceUnavailable) else \
                ResourceUnavailable(failure.need, failure.why)
        section = self.rig.section(kind)
        if section is None:
            raise ResourceUnavailable(kind, f"rig {self.rig.name} has no [{kind}] table")
        try:
            resource = drivers.create(kind, section.driver, section.options, self)
        except (ResourceUnavailable, InstrumentError) as exc:
            self._failures[kind] = exc
            raise
        self._resources[kind] = resource
        if hasattr(resource, "start"):
            resource.start()
        self.settle()
        return resource

    # ------------------------------------------------------------------ control pilot

    @property
    def cp_link(self) -> Any:
        return self.resource("cp")

    @property
    def cp(self) -> Any:
        """Our EVSE-side CP generator."""
        generator = self.cp_link.generator
        if generator is None:
            raise ResourceUnavailable("cp-generator", self._no_cp_side("EVSE-side CP generator"))
        return generator

    @property
    def cp_load(self) -> Any:
        """Our vehicle-side CP load."""
        load = self.cp_link.load
        if load is None:
            raise ResourceUnavailable("cp-load", self._no_cp_side("vehicle-side CP load"))
        return load

    def _no_cp_side(self, what: str) -> str:
        section = self.rig.section("cp")
        driver = section.driver if section else "none"
        role = f" for a {self.dut_role} DUT" if self.dut_role else ""
        return f"rig {self.rig.name} has no {what}{role} (cp.driver = {driver!r})"

    @property
    def pilot(self) -> Any:
        """The last pilot reading (stack.cp.CpReading) or None before anything was seen."""
        return self.cp_link.watch.reading

    @property
    def pilot_state(self) -> str | None:
        reading = self.pilot
        return None if reading is None else reading.state

    def measure_pilot(self) -> Any:
        """Measure now (skips with `needs cp-measurement` when nothing on the rig can)."""
        return self.cp_link.measure()

    # ------------------------------------------------------------------ nodes (stack endpoints)

    def add_node(self, node: Node, attach: dict[str, dict[str, Any]] | None = None) -> Node:
        """Put a stack endpoint on the bench: add it to the runner and attach it to resources by kind, e.g.
        `attach={"cp": {"side": "evse"}, "plc": {}, "ip": {}}` calls `bench.resource(kind).attach(node, **kw)`."""
        resources = {kind: self.resource(kind) for kind in (attach or {})}  # built (and settled) first
        self.runner.add(node)
        for kind, kwargs in (attach or {}).items():
            resources[kind].attach(node, **kwargs)
        return node

    # ------------------------------------------------------------------ time

    def note(self, name: str, **body: Any) -> Record:
        """A `test` record: what the test did, for the timeline and the report."""
        return self.timeline.add(Record(t=self.clock.now(), layer="test", name=name, src="test", body=body or None))

    def settle(self) -> None:
        """Serve whatever is due at the current instant (scheduled reactions, deliveries)."""
        self.runner.run(None, T_settle)

    def wait_for(self, predicate: Callable[[], bool], limit: SpecTimer, what: str = "") -> RunResult:
        """Run the bench until `predicate()` holds or `limit` passes; never longer. Recorded as a `test` record."""
        result = self.runner.run(predicate, limit)
        self.note("wait", what=what or getattr(predicate, "__name__", "condition"), limit=limit.name,
                  limit_s=limit.seconds, reached=result.reached, elapsed_s=round(result.elapsed, 6))
        return result

    def expect(self, predicate: Callable[[], bool], limit: SpecTimer, what: str) -> RunResult:
        """`wait_for`, failing the test (with the timeline) when `limit` passes first."""
        from harness.assertions import fail_with_timeline

        __tracebackhide__ = True
        result = self.wait_for(predicate, limit, what)
        if not result.reached:
            fail_with_timeline(self.timeline, f"{what}: not reached within {limit} "
                               f"({limit.source or 'spec timer'})", mark=len(self.timeline) - 1)
        return result

    def hold(self, limit: SpecTimer, what: str = "hold") -> RunResult:
        """Let the bench run for the whole of `limit` (e.g. to watch that something does not happen)."""
        return self.wait_for(lambda: False, limit, what)

    # ------------------------------------------------------------------ safety and end

    def safe(self) -> None:
        """Make every built resource safe; raises the first failure after trying them all."""
        errors = []
        for kind, resource in self._resources.items():
            if hasattr(resource, "safe"):
                error = safety.make_safe(resource, f"{kind} of bench {self.test_id or self.rig.name}", "bench safe")
                if error:
                    errors.append(error)
        if errors:
            raise InstrumentError("; ".join(errors))

    def close(self) -> None:
        """safe() and release everything (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.safe()
        finally:
            for resource in self._resources.values():
                if hasattr(resource, "close"):
                    with contextlib.suppress(Exception):
                        resource.close()
            safety.unregister(self)
            if self._owns_session:
                self.session.close_all()

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
