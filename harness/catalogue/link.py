"""`Link`: the lower layers of one charging connection under test — control pilot, SLAC (ISO 15118-3) and SDP — with
our stack as the tester against the DUT. Tests get it from the `link` fixture (testcases/README.md):

    link.start(slac=True, slac_faults=[SlacFault("in:CM_SLAC_PARM.CNF", "drop")])   # stage a deaf car
    cnf = link.expect_frame("CM_SLAC_PARM.CNF", TT_match_response, after=req)         # bounded, names the req.
    link.check(link.run_id(cnf) == link.run_id(req), "RunID not echoed", mark=cnf)

It is the `v2g` fixture (`harness.catalogue.v2g.V2G`: same seats, tester, checks, `start` arguments) with SLAC on
by default where the rig can carry it, SLAC-level tester faults (`stack.homeplug.faults.SlacFault`), tester SLAC
settings, a neighbour charger for cross-talk, and readers for `homeplug` frames and `sdp` datagrams. Its waits do
not stop when the tester's session ends (a SLAC test often makes it end on purpose); each is bounded by a SpecTimer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from harness.catalogue.v2g import V2G
from harness.drivers import ResourceUnavailable
from harness.records import Record
from harness.runtime.runner import Node
from stack.homeplug import timers as T
from stack.homeplug.faults import SlacFault, SlacFaultInjector
from stack.timers import SpecTimer

T_slac = SpecTimer("T_slac", T.TT_EVSE_SLAC_init.seconds + T.TT_matching_repetition.seconds + T.TT_match_join.seconds,
                   "ccs-hil: bound on one whole SLAC run (TT_EVSE_SLAC_init + TT_matching_repetition + TT_match_join)")
T_pilot_jitter = SpecTimer("T_pilot_jitter", 0.05, "ccs-hil working value: a CP instrument reports a change up to a few "
                           "poll intervals late (the CP board polls every 20 ms), so a duration measured between two "
                           "pilot changes may come out that much short")
NEIGHBOUR_MAC = "02:cc:00:00:01:0e"
_SENDER = {"dut": "from_dut", "tester": "to_dut", None: None}


class Link(V2G):
    # ------------------------------------------------------------------ setting up

    def start(self, protocol: str = "din", *, slac: bool | None = True, slac_faults: Iterable[SlacFault] = (),
              tester_slac: dict[str, Any] | None = None, **kwargs: Any) -> Link:
        """`V2G.start` with SLAC on (default) and, for our tester's SLAC machine, `slac_faults` (the stimulus: a car
        that ignores PARM.CNF, a charger that answers late) and `tester_slac` settings (`EvseSlacConfig` /
        `PevSlacConfig` fields, `overrides` of timers by name). `slac=None` runs SLAC only where the rig's PLC link
        needs it (not on sim), for SDP tests."""
        if slac:
            try:
                self.bench.resource("plc")
            except ResourceUnavailable as exc:
                pytest.skip(str(exc))
        super().start(protocol, slac=slac, **kwargs)
        machine = getattr(self.tester, "slac", None)
        if machine is not None:
            for key, value in (tester_slac or {}).items():
                if key == "overrides":
                    machine.overrides.update(value)
                else:
                    setattr(machine.config, key, value)
            faults = list(slac_faults)
            if faults:
                self.tester.slac = SlacFaultInjector(machine, faults)
                self.bench.note("tester SLAC faults", faults=[f"{f.when} {f.action} {f.value!r}" for f in faults])
        return self

    def add_neighbour_evse(self, *, attenuation_db: float | list[int], faults: Iterable[SlacFault] = ()) -> Node:
        """A second charger on another cable whose modem hears the car through cross-talk at `attenuation_db`
        (ours is at the line's default): it answers the car's broadcasts like any charger. Needs the modem
        emulator with room for a third modem (skipped otherwise)."""
        from harness.drivers.plc import link_local
        from stack.homeplug import EvseSlac, EvseSlacConfig

        self._require_started()
        link = self.bench.resource("plc")
        if not hasattr(link, "modem_of"):
            pytest.skip(f"needs plc-inproc: rig {self.bench.rig.name}'s PLC link has no room for a neighbour charger")
        machine: Any = EvseSlac(EvseSlacConfig(wait_for_cp=False))
        faults = list(faults)
        if faults:
            machine = SlacFaultInjector(machine, faults)
        node = Node("neighbour-evse", machine, NEIGHBOUR_MAC, link_local(NEIGHBOUR_MAC))
        self.bench.add_node(node, attach={"plc": {"side": "evse", "modem": "neighbour-evse-modem"}})
        car = next(name for side, name in link.modem_of.values() if side == "pev")
        with link.emulator() as line:
            line.set_attenuation(car, "neighbour-evse-modem", attenuation_db)
            for side, name in link.modem_of.values():
                if side == "evse" and name != "neighbour-evse-modem":
                    line.set_attenuation(name, "neighbour-evse-modem", 60.0)  # chargers far apart
        self.bench.note("neighbour charger", mac=NEIGHBOUR_MAC, attenuation_db=attenuation_db)
        return node

    def line(self) -> Any:
        """The emulated powerline (`harness.sim.modem.Powerline`) as a context manager; skips on real adaptors."""
        try:
            return self.bench.resource("plc").emulator()
        except ResourceUnavailable as exc:
            pytest.skip(str(exc))

    def set_cable_attenuation(self, value: float | list[int]) -> None:
        """The attenuation between our modem and the DUT's (a flat dB value or 58 per-group values), on the modem
        emulator; skips on real adaptors. Call before the run starts."""
        with self.line() as line:
            names = [n for n in line.modems if n != "neighbour-evse-modem"]
            if len(names) != 2:
                pytest.skip(f"needs a two-modem emulated line: rig {self.bench.rig.name} has {len(names)} modems")
            line.set_attenuation(names[0], names[1], value)
        self.bench.note("cable attenuation", modems=names, value=value)

    @property
    def tester_mac(self) -> str:
        return self.tester_node.mac.lower()

    @property
    def tester_ip(self) -> str:
        return self.tester_node.ipv6

    # ------------------------------------------------------------------ reading

    def frames(self, name: str | None = None, *, sender: str | None = "dut", after: int | Record | None = None,
               where: Callable[[Record], bool] | None = None) -> list[Record]:
        """`homeplug` records between tester and DUT (not the hosts' own modem traffic): by MME name ("CM_SLAC_PARM.CNF",
        globs not supported), sender ("dut", "tester", None = both), after a timeline index or record."""
        begin = self._begin(after)
        wanted = _SENDER[sender]
        return [r for r in self.timeline.records[begin:] if r.layer == "homeplug" and r.dir is not None
                and (name is None or r.name == name) and (wanted is None or r.dir == wanted)
                and (where is None or where(r))]

    def datagrams(self, name: str | None = None, *, sender: str | None = "dut",
                  after: int | Record | None = None) -> list[Record]:
        """`sdp` wire records ("SDP.REQ", "SDP.RES") by sender."""
        begin = self._begin(after)
        wanted = _SENDER[sender]
        return [r for r in self.timeline.records[begin:] if r.layer == "sdp" and r.name in ("SDP.REQ", "SDP.RES")
                and (name is None or r.name == name) and (wanted is None or r.dir == wanted)]

    def _begin(self, after: int | Record | None) -> int:
        if isinstance(after, Record):
            return self.index(after) + 1
        return self.started_at if after is None else after

    def wait(self, predicate: Callable[[], bool], limit: SpecTimer, what: str) -> bool:
        """Run until `predicate()` or the end of `limit` (whatever the tester's session does); True when reached."""
        self._require_started()
        return bool(self.bench.wait_for(predicate, limit, what))

    def next_frame(self, name: str, limit: SpecTimer, *, sender: str | None = "dut", after: int | Record | None = None,
                   nth: int = 1, where: Callable[[Record], bool] | None = None) -> Record | None:
        """The `nth` frame `name` from `sender` after `after`, running up to `limit` for it; None if none came."""
        self._require_started()
        self.wait(lambda: len(self.frames(name, sender=sender, after=after, where=where)) >= nth, limit,
                  f"{name} from the {sender or 'either side'}" + (f" (#{nth})" if nth > 1 else ""))
        found = self.frames(name, sender=sender, after=after, where=where)
        return found[nth - 1] if len(found) >= nth else None

    def expect_frame(self, name: str, limit: SpecTimer, *, sender: str | None = "dut",
                     after: int | Record | None = None, nth: int = 1,
                     where: Callable[[Record], bool] | None = None, what: str | None = None) -> Record:
        """`next_frame`, failing (naming the requirement, with the timeline) when it does not come within `limit`."""
        __tracebackhide__ = True
        found = self.next_frame(name, limit, sender=sender, after=after, nth=nth, where=where)
        if found is None:
            since = f" after #{self._begin(after) - 1}" if after is not None else ""
            self.fail(f"{what or name}{f' (#{nth})' if nth > 1 else ''}: none from the {sender or 'either side'} "
                      f"within {limit}{since}", mark=self._begin(after) - 1 if after is not None else None)
        assert found is not None
        return found

    def next_datagram(self, name: str, limit: SpecTimer, *, sender: str | None = "dut",
                      after: int | Record | None = None, nth: int = 1) -> Record | None:
        self._require_started()
        self.wait(lambda: len(self.datagrams(name, sender=sender, after=after)) >= nth, limit,
                  f"{name} from the {sender}" + (f" (#{nth})" if nth > 1 else ""))
        found = self.datagrams(name, sender=sender, after=after)
        return found[nth - 1] if len(found) >= nth else None

    def tester_state(self, name: str, after: int | Record | None = None) -> list[Record]:
        """`state` records of our tester's machines (e.g. "slac_matched") after a point."""
        begin = self._begin(after)
        node = self.tester_node.name
        return [r for r in self.timeline.records[begin:] if r.layer == "state" and r.name == name and r.src == node]

    def oscillator_changes(self, after: int | Record | None = None) -> list[Record]:
        """Pilot readings (`cp` records measured on the line) that differ in state or PWM from the previous one."""
        out, last = [], None
        for record in self.pilot_states(self._begin(after)):
            body = record.body or {}
            key = (body.get("state"), body.get("duty") is not None)
            if key != last:
                out.append(record)
                last = key
        return out

    @staticmethod
    def value(record: Record, path: str, default: Any = None) -> Any:
        """A field of a frame's or datagram's body by dotted path (`VariableField.RunID`)."""
        node: Any = record.body or {}
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @classmethod
    def run_id(cls, record: Record) -> str | None:
        value = cls.value(record, "RunID") or cls.value(record, "VariableField.RunID")
        return None if value is None else str(value).lower()
