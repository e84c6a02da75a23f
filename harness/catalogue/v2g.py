"""`V2G`: one high-level session under test — our stack as the tester against the DUT — with a small API that reads
like the requirement it checks. Tests get it from the `v2g` fixture (see testcases/README.md):

    v2g.start("din")                                   # tester (+ the DUT seat on sim/our-stack rigs); nothing runs yet
    res = v2g.expect("SessionSetupRes")                # run until the DUT's answer; bounded; fails with the timeline
    v2g.check(v2g.code(res) == "OK_NewSessionEstablished", f"SessionSetupRes says {v2g.code(res)}", mark=res)

With `dut_role("evse")` our PEV is the tester and the DUT is a charger; with `dut_role("pev")` our EVSE is the
tester and the DUT a car. The DUT seat is filled per rig (`harness.catalogue.seats`): our own stack with the
`--dut-fault` sets on `sim`, our stack on simnet/loopback, an external device on hardware rigs. Every wait is
bounded by a `SpecTimer`; every failed check names the test's requirement(s) and shows the timeline around `mark`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from harness.assertions import fail_with_timeline, record_assert
from harness.bench import Bench, T_settle
from harness.catalogue import points
from harness.catalogue.checks import Checks
from harness.catalogue.points import Exchange, Point
from harness.catalogue.seats import Seat, fill_seat
from harness.records import Record
from harness.runtime.runner import Node, RunResult
from stack import sansio as io
from stack.sessions.faults import Fault
from stack.sessions.sequence import SequenceTable
from stack.timers import SpecTimer

T_session = SpecTimer("T_session", 600.0, "ccs-hil: bound on one whole session run; the spec timers inside it are "
                      "enforced by the tester and asserted by the test")
T_linger = SpecTimer("T_linger", 2.0, "ccs-hil: how long to keep watching the DUT after the tester's session ended")
TESTER_DEFAULTS = {"pev": {"charge_loops": 10}, "evse": {}}
OUR_DUT_DEFAULTS = {"pev": {"charge_loops": 10}, "evse": {}}
_PILOT_ORDER = "ABCD"


class _ClampedPilot:
    """The tester's CP port with a ceiling on the load it presents (a car that never closes S2, say)."""

    def __init__(self, port: Any, ceiling: str, bench: Bench) -> None:
        self.port, self.ceiling, self.bench, self.noted = port, ceiling, bench, False

    def apply(self, out: Any, now: float) -> None:
        state = getattr(out, "state", None)
        if isinstance(out, io.SetCpLoad) and state in _PILOT_ORDER and \
                _PILOT_ORDER.index(state) > _PILOT_ORDER.index(self.ceiling):
            if not self.noted:
                self.bench.note("pilot clamped", wanted=state, presented=self.ceiling)
                self.noted = True
            out = io.SetCpLoad(self.ceiling)
        self.port.apply(out, now)


class _KeepOpen:
    """The tester's IP port without closing: the tester's session may end, the TCP connection stays up, so the
    test sees whether the DUT closes it."""

    def __init__(self, port: Any, bench: Bench) -> None:
        self.port, self.bench = port, bench

    def close_stream(self, conn: int, now: float) -> None:
        self.bench.note("tester keeps the connection open", conn=conn)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.port, name)


class V2G(Checks):
    def __init__(self, bench: Bench) -> None:
        if bench.dut_role not in ("evse", "pev"):
            pytest.fail("the v2g fixture needs @pytest.mark.dut_role('evse') or ('pev')", pytrace=False)
        self.bench = bench
        self.dut_role: str = bench.dut_role
        self.tester_role = "pev" if self.dut_role == "evse" else "evse"
        self.protocol: str | None = None
        self.tester: Any = None
        self.seat: Seat | None = None
        self.started_at = 0
        self.keep_open = False
        self.slac = False  # SLAC ran first: the data link is supervised (V2G_SECC_CommunicationSetup_Performance_Time)

    # ------------------------------------------------------------------ setting up

    def start(self, protocol: str = "din", *, tester: dict[str, Any] | None = None,
              dut: dict[str, Any] | None = None, faults: Iterable[Fault] = (), slac: bool | None = None,
              pilot_max: str | None = None, keep_open: bool = False, sim_dut: dict[str, Any] | None = None) -> V2G:
        """Build the tester and fill the DUT seat; nothing runs until a `run_*`/`expect` call.

        `tester`: settings of our tester (`PevConfig`/`EvseConfig` keys, on top of the protocol preset);
        `faults`: faults of our tester, to stage a faulty peer (`stack.sessions.faults.Fault`);
        `dut`: settings of the DUT — a precondition only our own stack can meet, so the test is skipped with `needs
        dut-setup` on rigs with an external DUT; `sim_dut`: settings for our stack when it sits in the DUT seat
        that are no precondition (how long the simulated car charges); ignored for other DUTs; `slac`: run SLAC first (default: when the rig's PLC link needs it);
        `pilot_max`: the highest CP state our tester (a car) presents, e.g. "B" for a car that never closes S2;
        `keep_open`: our tester never closes the TCP connection itself (to see whether the DUT does)."""
        from harness.nodes import add_evse, add_pev

        if self.protocol is not None:
            raise RuntimeError("v2g.start() was already called in this test")
        bench = self.bench
        if slac is None:
            plc = bench.rig.section("plc")
            slac = plc is not None and plc.driver != "inproc"
        self.protocol, self.slac = protocol, slac
        tester_config = {**TESTER_DEFAULTS[self.tester_role], **(tester or {})}
        faults = list(faults)
        if dut and bench.rig.dut["kind"] in ("vehicle", "charger"):
            pytest.skip(f"needs dut-setup: the test configures the DUT ({', '.join(sorted(dut))}); "
                        f"rig {bench.rig.name}'s {bench.rig.dut['kind']} is not ours to configure")
        bench.note("v2g start", protocol=protocol, dut_role=self.dut_role, tester=tester_config or None,
                   tester_faults=[f"{f.when} {f.action} {f.value!r}" for f in faults] or None, dut=dut, slac=slac)
        dut_config = {**OUR_DUT_DEFAULTS[self.dut_role], **(sim_dut or {}), **(dut or {})}
        # the charger first, so it listens before the car asks
        if self.tester_role == "evse":
            self.tester = add_evse(bench, protocol=protocol, config=tester_config, slac=slac, name="tester-evse",
                                   faults=faults)
            self.seat = self._fill(protocol, dut_config, slac, dut)
        else:
            self.seat = self._fill(protocol, dut_config, slac, dut)
            self.tester = add_pev(bench, protocol=protocol, config=tester_config, slac=slac, name="tester-pev",
                                  faults=faults)
        if pilot_max is not None:
            node = self.tester_node
            if node.cp is None:
                pytest.skip(f"needs cp-load: rig {bench.rig.name} gives the tester no control pilot")
            node.cp = _ClampedPilot(node.cp, pilot_max, bench)
        self.keep_open = keep_open
        if keep_open:
            self.tester_node.ip = _KeepOpen(self.tester_node.ip, bench)  # type: ignore[assignment]
        bench.runner.external_dut = True  # whatever answers is the DUT: records carry dir to_dut / from_dut
        self.started_at = len(bench.timeline)
        return self

    def _fill(self, protocol: str, config: dict[str, Any], slac: bool, asked: dict[str, Any] | None) -> Seat:
        seat = fill_seat(self.bench, self.dut_role, protocol, config, slac)
        if asked and not seat.configurable:
            pytest.skip(f"needs dut-setup: the test configures the DUT ({', '.join(sorted(asked))}); "
                        f"rig {self.bench.rig.name}'s DUT ({seat.kind}) cannot be configured")
        return seat

    @property
    def tester_node(self) -> Node:
        return self.bench.runner.nodes["tester-evse" if self.tester_role == "evse" else "tester-pev"]

    @property
    def timeline(self) -> Any:
        return self.bench.timeline

    @property
    def table(self) -> SequenceTable:
        """The sequence table (timers, rules) of the standard under test."""
        return points.TABLES[points.PROTOCOL_SCHEMA[self.protocol or "din"]]

    def timeout(self, pair: str) -> SpecTimer:
        """V2G_EVCC_Msg_Timeout of a pair ("CableCheck", "SupportedAppProtocol")."""
        return points.timeout_of(pair, self.table)

    # ------------------------------------------------------------------ running

    def _require_started(self) -> None:
        if self.protocol is None:
            self.start()

    def run_until(self, point: Point, limit: SpecTimer = T_session, *, nth: int = 1, after: int | None = None,
                  what: str | None = None, stop_at_end: bool = True) -> Record | None:
        """Run until the `nth` record matching `point` (from `after`, default the start of the session), the end of
        `limit`, or (`stop_at_end`) the tester's session end (+ `T_linger`); returns the record or None."""
        self._require_started()
        wanted = points.as_step(point)
        state = {"pos": self.started_at if after is None else after, "count": 0, "found": None}

        def reached() -> bool:
            records = self.timeline.records
            while state["pos"] < len(records):
                record = records[state["pos"]]
                state["pos"] += 1
                if points.matches(wanted, record):
                    state["count"] += 1
                    if state["count"] >= nth:
                        state["found"] = record
                        return True
            return False

        description = what or f"{points.label(point)}" + (f" (#{nth})" if nth > 1 else "")
        result = self.bench.wait_for(lambda: reached() or (stop_at_end and self.tester_ended()), limit, description)
        if state["found"] is None and stop_at_end and self.tester_ended() and result.elapsed < limit.seconds:
            self.bench.wait_for(reached, T_linger, f"{description}, after the tester's session ended")
        return state["found"]  # type: ignore[return-value]

    def expect(self, point: Point, limit: SpecTimer = T_session, *, nth: int = 1, after: int | None = None,
               what: str | None = None, stop_at_end: bool = True) -> Record:
        """`run_until`, failing (naming the requirement, with the timeline) when the point is not reached."""
        __tracebackhide__ = True
        found = self.run_until(point, limit, nth=nth, after=after, what=what, stop_at_end=stop_at_end)
        if found is None:
            ended = " (the tester's session ended: " + self.tester_end_reason() + ")" if self.tester_ended() else ""
            self.fail(f"{what or points.label(point)}{f' (#{nth})' if nth > 1 else ''} did not happen within "
                      f"{limit}{ended}")
        return found  # type: ignore[return-value]

    def run_to_end(self, limit: SpecTimer = T_session) -> RunResult:
        """Run until the tester's session has ended (then serve what is due at that instant)."""
        self._require_started()
        result = self.bench.wait_for(self.tester_ended, limit, "the tester's session ends")
        self.bench.settle()
        return result

    def hold(self, limit: SpecTimer, what: str = "hold") -> RunResult:
        """Let everything run for the whole of `limit` (to see that something does not happen)."""
        self._require_started()
        return self.bench.hold(limit, what)

    def command(self, name: str, **args: Any) -> None:
        """A command to our tester (docs/sessions.md: stop_charging, emergency_stop, pause, unplug, ...)."""
        self._require_started()
        self.bench.note("tester command", command=name)
        self.bench.runner.command(self.tester_node.name, name, **args)
        self.bench.settle()

    def force_pilot(self, state: str) -> None:
        """From now on our tester (a car) presents at most `state` on the pilot, starting at once (e.g. "B": it
        opens S2 behind the session's back)."""
        self._require_started()
        node = self.tester_node
        if node.cp is None:
            pytest.skip(f"needs cp-load: rig {self.bench.rig.name} gives the tester no control pilot")
        if isinstance(node.cp, _ClampedPilot):
            node.cp.ceiling = state
        else:
            node.cp = _ClampedPilot(node.cp, state, self.bench)
        self.bench.note("tester forces the pilot", state=state)
        node.cp.apply(io.SetCpLoad(state), self.bench.clock.now())
        self.bench.settle()

    def dut_command(self, name: str) -> None:
        """A command to the DUT (its stop button, ...); skipped with `needs dut-control` where the harness cannot."""
        self._require_started()
        assert self.seat is not None
        if not self.seat.controllable:
            pytest.skip(f"needs dut-control: the test commands the DUT ({name}); rig {self.bench.rig.name}'s "
                        f"{self.seat.kind} cannot be commanded from the harness")
        self.bench.note("dut command", command=name)
        self.seat.command(name)
        self.bench.settle()

    # ------------------------------------------------------------------ reading

    def index(self, record: Record) -> int:
        for position in range(len(self.timeline.records) - 1, -1, -1):
            if self.timeline.records[position] is record:
                return position
        raise ValueError("record is not on this test's timeline")

    def messages(self, name: str | None = None, *, sender: str | None = None, after: int | Record | None = None,
                 where: Callable[[Record], bool] | None = None) -> list[Record]:
        """exi records of the session (optionally one message name, sent by "dut" or "tester", after a point)."""
        begin = self.index(after) + 1 if isinstance(after, Record) else (self.started_at if after is None else after)
        wanted_dir = {"dut": "from_dut", "tester": "to_dut", None: None}[sender]
        return [r for r in self.timeline.records[begin:] if r.layer == "exi" and (name is None or r.name == name)
                and (wanted_dir is None or r.dir == wanted_dir) and (where is None or where(r))]

    def exchanges(self, pair: str | None = None) -> list[Exchange]:
        found = points.exchanges(self.timeline, self.started_at)
        return [e for e in found if pair is None or e.pair == pair]

    def tester_records(self, name: str) -> list[Record]:
        """`state` records of our tester (e.g. "session_end", "peer_error": what it found the DUT doing wrong)."""
        node = self.tester_node.name
        return [r for r in self.timeline.records[self.started_at:] if r.layer == "state" and r.name == name
                and r.src == node]

    def tester_ended(self) -> bool:
        return bool(self.tester_records("session_end"))

    def tester_end_reason(self) -> str:
        ends = self.tester_records("session_end")
        return str((ends[0].body or {}).get("reason", "")) if ends else "still running"

    def closed_by_dut(self, after: int = 0) -> Record | None:
        """The first TCP close the tester saw coming from the DUT's side (after timeline index `after`); a
        connection our tester closed itself (unless `keep_open` swallowed that) does not count."""
        ip = self.tester_node.ipv6
        ours: set[Any] = set()
        for index, record in enumerate(self.timeline.records[self.started_at:], start=self.started_at):
            if record.layer != "tcp":
                continue
            if record.name == "close" and record.src == ip and not self.keep_open:
                ours.add(record.extra.get("conn"))
            elif (record.name == "closed" and record.dst == ip and index >= after
                  and record.extra.get("conn") not in ours):
                return record
        return None

    def closed_by_tester(self, after: int = 0) -> Record | None:
        ip = self.tester_node.ipv6
        for record in self.timeline.records[max(after, self.started_at):]:
            if record.layer == "tcp" and record.name == "close" and record.src == ip:
                return record
        return None

    def pilot_states(self, after: int = 0) -> list[Record]:
        """Pilot changes as measured on the line (`cp` records from the measurement)."""
        return [r for r in self.timeline.records[after:] if r.layer == "cp" and r.name.startswith("state ")
                and r.src == "cp"]

    def pilot_at(self, record: Record | int) -> str | None:
        """The pilot state last measured before a record (or timeline index)."""
        stop = self.index(record) if isinstance(record, Record) else record
        state = None
        for r in self.timeline.records[:stop]:
            if r.layer == "cp" and r.name.startswith("state ") and r.src == "cp":
                state = (r.body or {}).get("state")
        return state

    body = staticmethod(points.body)
    field = staticmethod(points.field)
    physical = staticmethod(points.physical)
    code = staticmethod(points.code)
    session_id = staticmethod(points.session_id)

    # ------------------------------------------------------------------ checking

    def fail(self, message: str, mark: Record | int | None = None) -> None:
        """Fail the test: the message, the requirement(s) under test, the timeline around `mark`."""
        __tracebackhide__ = True
        index = self.index(mark) if isinstance(mark, Record) else mark
        fail_with_timeline(self.timeline, message, mark=index)

    def check(self, condition: Any, message: str, mark: Record | int | None = None) -> None:
        """`fail(message)` unless `condition` holds; recorded as a passed assertion otherwise."""
        __tracebackhide__ = True
        if not condition:
            self.fail(message, mark)
        record_assert(self.timeline, "pass", "checked: " + message.splitlines()[0][:200])

    def settle(self) -> None:
        self.bench.runner.run(None, T_settle)
