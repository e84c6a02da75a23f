"""Emulator of the serial CP board (protocol v1, see `harness.drivers.cp_serial`), on a pseudo-terminal.

`CpBoardEmulator` is the board's firmware logic: it parses command lines, keeps the oscillator and load state,
solves the pilot with the same circuit model as the sim rig (`SimCpLine`) and answers. The "other end of the
cable" — the car when the board is an EVSE, the charger when it is a vehicle — is set by the owner through
`line` (e.g. `emulator.line.load.present("B")`).

`PtyCpBoard` serves an emulator on a pty: the driver opens `port` (the slave side) exactly as it would open
/dev/ttyACM0. Its state lives in the emulator, in the process that owns the pty — so a test can ask the *board*
whether it was left safe, whatever happened to the process that drove it.

Misbehaviour for tests: `mute` (never answer: timeouts), `replies` (command word → fixed reply, e.g.
{"MEAS?": "garbage"}), `idn`.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Callable

from harness.drivers.cp import CpSetting
from harness.sim.cp_line import SimCpLine

LOAD_FAULTS = {"NONE": None, "NODIODE": "no-diode", "SHORT": "short-to-pe"}


class CpBoardEmulator:
    def __init__(self, side: str = "both", idn: str = "CCSHIL-CPBOARD,EMU-1,000001,1.0") -> None:
        self.side = side
        self.idn = idn
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
        return (self.side == "pev" or self.evse_safe) and (self.side == "evse" or self.pev_safe)

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
                                                                         else []), "MEAS"])
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
            if self._has("evse"):
                self.line.setting = CpSetting("off")
            if self._has("pev"):
                self.load_state, self.load_fault = "A", None
                self.line.load.present("A")
                self.line.load.diode, self.line.load.short_to_pe = True, False
        elif head in ("STATE", "LOAD", "FAULT"):
            return "ERR bad argument"
        else:
            return "ERR unknown command"
        return "OK"


class PtyCpBoard:
    """Serve a `CpBoardEmulator` on a pseudo-terminal; `port` is the device path to give the driver."""

    def __init__(self, emulator: CpBoardEmulator | None = None) -> None:
        self.emulator = emulator or CpBoardEmulator()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing: bytes pass as the board would send them
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"cp-board {self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
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
                    os.write(self._master, reply.encode("ascii") + b"\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyCpBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
