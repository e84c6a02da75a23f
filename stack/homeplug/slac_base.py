"""What the EVSE and PEV SLAC machines share: named timers, state notifications, the result, frame intake."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scapy.packet import Packet

from stack import sansio as io
from stack.errors import MalformedInput
from stack.homeplug import frames as f
from stack.timers import SpecTimer


@dataclass
class SlacResult:
    """The outcome of one SLAC run, as the composite role and the CLI need it."""

    role: str
    matched: bool
    nid: bytes = b""
    nmk: bytes = b""
    peer_mac: str = ""  # PEV: the chosen EVSE host; EVSE: the PEV host
    run_id: bytes = b""
    attenuation_db: float | None = None  # average over groups (PEV: of the chosen EVSE; EVSE: what it reported)
    attempts: int = 0
    reason: str = ""  # why it failed
    timer: str = ""  # the spec timer that ran out, when one did
    candidates: dict[str, float | None] = field(default_factory=dict)  # PEV: EVSE MAC -> average attenuation
    timings: dict[str, float] = field(default_factory=dict)  # phase -> time on the caller's clock

    @property
    def duration(self) -> float | None:
        start, end = self.timings.get("start"), self.timings.get("matched")
        return None if start is None or end is None else end - start

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "matched": self.matched, "attempts": self.attempts}
        if self.matched:
            out.update(nid=self.nid.hex(), nmk=self.nmk.hex(), peer_mac=self.peer_mac, run_id=self.run_id.hex(),
                       attenuation_db=self.attenuation_db, duration=self.duration)
        else:
            out.update(reason=self.reason, timer=self.timer or None, run_id=self.run_id.hex() or None)
        if self.candidates:
            out["candidates"] = self.candidates
        out["timings"] = dict(self.timings)
        return out


def average_attenuation(groups: list[int]) -> float | None:
    return sum(groups) / len(groups) if groups else None


def half_up(x: float) -> int:
    return int(x + 0.5)


class SlacMachine:
    """Base of `EvseSlac` and `PevSlac`: timers by name, transitions as `Notify("state", "slac_<state>")`."""

    role = "?"

    def __init__(self, modem_mac: str, rng: Callable[[int], bytes] | None,
                 overrides: Mapping[str, float] | None = None) -> None:
        self.mac = "02:00:00:00:00:01"
        # Timer (by SpecTimer name) and counter (C_...) values other than the standard's: only for a deliberately
        # faulty machine (the sim rig's DUT faults, harness.sim.slac_faults).
        self.overrides: dict[str, float] = dict(overrides or {})
        self.modem_mac = modem_mac
        self.rng = rng or os.urandom
        self.state = "idle"
        self.result: SlacResult | None = None
        self._timers: dict[str, tuple[float, SpecTimer]] = {}
        self._out: list[io.Output] = []
        self.timings: dict[str, float] = {}

    # ---------------------------------------------------------------- Endpoint

    def next_deadline(self) -> float | None:
        return min((t for t, _ in self._timers.values()), default=None)

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        self._out = []
        if isinstance(event, io.Start):
            self.mac = event.mac.lower()
            self._on_start(now)
        elif isinstance(event, io.Tick):
            for name, (when, timer) in sorted(self._timers.items(), key=lambda kv: kv[1][0]):
                if when <= now and name in self._timers and self._timers[name][0] == when:
                    del self._timers[name]
                    self._on_timer(name, timer, now)
        elif isinstance(event, io.FrameReceived):
            self._intake(event.frame, now)
        elif isinstance(event, io.CpObserved):
            self._on_cp(event, now)
        elif isinstance(event, io.Command):
            self._on_command(event, now)
        return self._out

    # ---------------------------------------------------------------- helpers for subclasses

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def matched(self) -> bool:
        return self.result is not None and self.result.matched

    def _start_timer(self, name: str, timer: SpecTimer, now: float, seconds: float | None = None) -> None:
        if timer.name in self.overrides:
            seconds = float(self.overrides[timer.name])
        self._timers[name] = (now + (timer.seconds if seconds is None else seconds), timer)

    def _seconds(self, timer: SpecTimer) -> float:
        return float(self.overrides.get(timer.name, timer.seconds))

    def _count(self, name: str, standard: int) -> int:
        return int(self.overrides.get(name, standard))

    def _stop_timer(self, *names: str) -> None:
        for name in names:
            self._timers.pop(name, None)

    def _stop_all_timers(self) -> None:
        self._timers.clear()

    def _set(self, state: str, now: float, **data: Any) -> None:
        self.state = state
        self._notify(f"slac_{state}", role=self.role, **data)

    def _notify(self, name: str, **data: Any) -> None:
        self._out.append(io.Notify("state", name, {k: _plain(v) for k, v in data.items()}))

    def _send(self, dst: str, body: Packet) -> None:
        self._out.append(io.SendFrame(f.make(dst, self.mac, body)))

    def _emit(self, out: io.Output) -> None:
        self._out.append(out)

    def _finish(self, result: SlacResult, now: float) -> None:
        self._stop_all_timers()
        result.timings = dict(self.timings)
        self.result = result
        self.state = "matched" if result.matched else "failed"
        self._notify("slac_matched" if result.matched else "slac_failed", **result.to_dict())

    def _intake(self, frame: bytes, now: float) -> None:
        if len(frame) < 14 or frame[12:14] != f.ETHERTYPE_HOMEPLUG.to_bytes(2, "big"):
            return  # IP traffic and other protocols are not SLAC's business
        dst = f.mac_str(frame[0:6])
        if dst not in (self.mac, f.BROADCAST) and not frame[0] & 1:
            return  # unicast for another host on a shared medium
        try:
            mme = f.parse_frame(frame)
        except MalformedInput as exc:
            self._notify("slac_malformed", role=self.role, error=str(exc), what=exc.what, where=exc.where,
                         raw=frame.hex())
            return
        self._on_mme(mme, now)

    def _ignore(self, mme: f.Mme, reason: str) -> None:
        self._notify("slac_ignored", role=self.role, mme=mme.name, src=mme.src, reason=reason)

    # ---------------------------------------------------------------- hooks

    def _on_start(self, now: float) -> None: ...

    def _on_timer(self, name: str, timer: SpecTimer, now: float) -> None: ...

    def _on_mme(self, mme: f.Mme, now: float) -> None: ...

    def _on_cp(self, event: io.CpObserved, now: float) -> None: ...

    def _on_command(self, event: io.Command, now: float) -> None:
        self._notify("command_unknown", role=self.role, command=event.name)


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return value
