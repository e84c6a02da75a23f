"""Emulator of the serial CP board (protocol v1, see `harness.drivers.cp_serial`), on a pseudo-terminal.

`CpBoardEmulator` is the board's firmware logic: it parses command lines, keeps the oscillator and load state,
solves the pilot with the same circuit model as the sim rig (`SimCpLine`) and answers. The "other end of the
cable" — the car when the board is an EVSE, the charger when it is a vehicle — is set by the owner through
`line` (e.g. `emulator.line.load.present("B")`).

`PtyCpBoard` serves an emulator on a pty: the driver opens `port` (the slave side) exactly as it would open
/dev/ttyACM0. Its state lives in the emulator, in the process that owns the pty — so a test can ask the *board*
whether it was left safe, whatever happened to the process that drove it.

The watchdog (`WDOG <s>`) is honoured as the board's firmware would: no command line for that long → SAFE, and
`WDOG?` says `TRIPPED` — the emulator checks it in its own thread, so it trips even when the process that drove
the board was killed. `features` limits what the board has (a board without `WDOG` or `RELAY`, like early
firmware).

Misbehaviour for tests: `mute` (never answer: timeouts), `replies` (command word → fixed reply, e.g.
{"MEAS?": "garbage"}), `idn`.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable

from harness.drivers.cp import CpSetting
from harness.sim.cp_line import SimCpLine

LOAD_FAULTS = {"NONE": None, "NODIODE": "no-diode", "SHORT": "short-to-pe"}


class CpBoardEmulator:
    def __init__(self, side: str = "both", idn: str = "CCSHIL-CPBOARD,EMU-1,000001,1.0",
                 features: tuple[str, ...] = ("WDOG", "RELAY")) -> None:
        self.side = side
        self.idn = idn
        self.features = tuple(features)
        self.relay = False  # aux relay (e.g. the lamp load of a `bulb` power stage)
        self.watchdog_s = 0.0  # 0: disarmed
        self.watchdog_tripped = False
        self.last_command = time.monotonic()
        self.line = SimCpLine(None)
        self.load_state = "A"  # our vehicle side (side pev/both)
        self.load_fault: str | None = None
        self.mute = False
        self.replies: dict[str, str] = {}
        self.received: list[str] = []
        self.changed = threading.Condition()

    # ------------------------------------------------------------------ state, as the board itself knows it

    @property
    def oscillator(self) -> str:
        s = self.line.setting
        return f"PWM {s.duty:.1f}" if s.mode == "pwm" else s.mode.upper()

    @property
    def evse_safe(self) -> bool:
        return self.line.setting.mode == "off"

    @property
    def pev_safe(self) -> bool:
        return self.load_state == "A" and self.load_fault is None

    @property
    def safe(self) -> bool:
        return ((self.side == "pev" or self.evse_safe) and (self.side == "evse" or self.pev_safe)
                and not self.relay)

    def tick(self, now: float) -> None:
        """The firmware's watchdog: silent host for `watchdog_s` → everything off (once per silence)."""
        with self.changed:
            if self.watchdog_s > 0 and not self.watchdog_tripped and now - self.last_command > self.watchdog_s:
                self._safe_state()
                self.watchdog_tripped = True
                self.changed.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until the board's state satisfies `predicate` (bounded)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    # ------------------------------------------------------------------ protocol

    def handle(self, line: str) -> str | None:
        line = line.strip()
        if not line:
            return None
        with self.changed:
            self.received.append(line)
            self.last_command = time.monotonic()
            try:
                reply = self._handle(line.split())
            finally:
                self.changed.notify_all()
        if self.mute:
            return None
        return self.replies.get(line.split()[0].upper(), reply)

    def _has(self, side: str) -> bool:
        return self.side in (side, "both")

    def _handle(self, words: list[str]) -> str:
        head, args = words[0].upper(), [w.upper() for w in words[1:]]
        if head == "*IDN?":
            return self.idn
        if head == "PROTO?":
            return "1"
        if head == "CAP?":
            return " ".join([*(["EVSE"] if self._has("evse") else []), *(["PEV", "FAULTS"] if self._has("pev")
                                                                         else []), "MEAS", *self.features])
        if head in ("WDOG", "WDOG?", "RELAY", "RELAY?") and head.rstrip("?") not in self.features:
            return "ERR unknown command"
        if head == "PING":
            return "OK"
        if head == "WDOG?":
            state = "TRIPPED" if self.watchdog_tripped else "ARMED" if self.watchdog_s > 0 else "OFF"
            return f"{self.watchdog_s:g} {state}"
        if head == "WDOG":
            try:
                seconds = float(args[0])
            except (IndexError, ValueError):
                return "ERR bad argument"
            if seconds < 0:
                return "ERR bad argument"
            self.watchdog_s, self.watchdog_tripped = seconds, False
            return "OK"
        if head == "RELAY?":
            return "ON" if self.relay else "OFF"
        if head == "RELAY":
            if not args or args[0] not in ("ON", "OFF"):
                return "ERR bad argument"
            self.relay = args[0] == "ON"
            return "OK"
        if head in ("OFF", "DC", "PWM", "STATE", "OSC?") and not self._has("evse"):
            return "ERR not supported"
        if head in ("LOAD", "FAULT", "LOAD?") and not self._has("pev"):
            return "ERR not supported"
        if head == "OFF":
            self.line.setting = CpSetting("off")
        elif head == "DC":
            self.line.setting = CpSetting("dc")
        elif head == "PWM":
            try:
                duty = float(args[0])
                self.line.setting = CpSetting("pwm", round(duty, 1))
            except (IndexError, ValueError):
                return "ERR bad argument"
        elif head == "STATE" and args and args[0] in ("E", "F"):
            self.line.setting = CpSetting(args[0])
        elif head == "OSC?":
            return self.oscillator
        elif head == "LOAD" and args and args[0] in ("A", "B", "C", "D"):
            self.load_state = args[0]
            self.line.load.present(args[0])
        elif head == "FAULT" and args and args[0] in LOAD_FAULTS:
            self.load_fault = LOAD_FAULTS[args[0]]
            self.line.load.diode = self.load_fault != "no-diode"
            self.line.load.short_to_pe = self.load_fault == "short-to-pe"
        elif head == "LOAD?":
            return f"{self.load_state} {[k for k, v in LOAD_FAULTS.items() if v == self.load_fault][0]}"
        elif head == "MEAS?":
            r = self.line.reading()
            if r.duty is None:
                return f"{r.high:.2f} {r.high:.2f} 100 0"
            return f"{r.high:.2f} {r.low:.2f} {r.duty:.1f} {r.frequency:.1f}"
        elif head == "STATE?":
            return self.line.reading().state
        elif head == "SAFE":
            self._safe_state()
        elif head in ("STATE", "LOAD", "FAULT"):
            return "ERR bad argument"
        else:
            return "ERR unknown command"
        return "OK"


    def _safe_state(self) -> None:
        if self._has("evse"):
            self.line.setting = CpSetting("off")
        if self._has("pev"):
            self.load_state, self.load_fault = "A", None
            self.line.load.present("A")
            self.line.load.diode, self.line.load.short_to_pe = True, False
        self.relay = False


class PtyCpBoard:
    """Serve a `CpBoardEmulator` on a pseudo-terminal; `port` is the device path to give the driver."""

    def __init__(self, emulator: CpBoardEmulator | None = None) -> None:
        self.emulator = emulator or CpBoardEmulator()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: bytes pass as the board would send them
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._unplug = threading.Event()
        self.unplugged = False
        self._thread = threading.Thread(target=self._serve, name=f"cp-board {self.port}", daemon=True)
        self._thread.start()

    def unplug(self, timeout: float = 5.0) -> None:
        """The USB cable is pulled: the host side fails from now on, the board keeps running (its watchdog too).
        The serving thread closes the pty itself (it owns the descriptors; closing them under it could hand their
        numbers to someone else's files)."""
        self._unplug.set()
        deadline = time.monotonic() + timeout
        while not self.unplugged and time.monotonic() < deadline:
            self._stop.wait(0.01)
        if not self.unplugged:
            raise RuntimeError(f"{self.port}: the emulator did not let go of the pty")

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            if self._unplug.is_set() and not self.unplugged:
                for fd in (self._master, self._slave):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                self.unplugged = True
            if self.unplugged:
                self.emulator.tick(time.monotonic())
                self._stop.wait(0.05)
                continue
            ready, _, _ = select.select([self._master], [], [], 0.05)
            self.emulator.tick(time.monotonic())
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                continue  # no process has the slave open at the moment
            pending += chunk
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                reply = self.emulator.handle(raw.decode("ascii", errors="replace"))
                if reply is not None:
                    with contextlib.suppress(OSError):  # the host went away mid-line
                        os.write(self._master, reply.encode("ascii") + b"\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self.unplugged:
            for fd in (self._master, self._slave):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> PtyCpBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
