"""SCPI instruments emulated in Python and served on a TCP socket, as LAN instruments are (`TCPIP0::host::port::
SOCKET`, raw SCPI over TCP: one command per line, one reply line per query).

Why besides pyvisa-sim: an emulator whose state lives in the test process can be asked *after* the harness
process that drove it was interrupted, terminated or killed whether it was left safe, and it can behave — a
watchdog that expires, a supply whose measured voltage follows its load, a composite read-back (Siglent's
`C1:BSWV?`) — which pyvisa-sim's static property tables cannot. The driver side is unchanged: pyvisa-py's socket
backend, exactly as with a real instrument on the LAN.

- `SiglentSdgEmulator`: Siglent SDG function generator (`Cn:BSWV`, `Cn:OUTP`), two channels.
- `DcSupplyEmulator`: programmable DC supply (`VOLT`, `CURR`, `OUTP`, `MEAS:VOLT?`, `MEAS:CURR?`, `VOLT:PROT`)
  with a resistive load (CV/CC), and the output watchdog of the Keysight N6700 family (`OUTP:PROT:WDOG`,
  `OUTP:PROT:WDOG:DEL`): no SCPI traffic for the delay → output off.
- `ScpiSocketServer`: serves one emulator on 127.0.0.1 (a thread; `resource` is the VISA name to open).

Misbehaviour for tests: `mute` (never answer), `replies` (command word → fixed reply), `idn`.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
from collections.abc import Callable


class ScpiEmulator:
    """Base: line in → reply (or None), an error queue, and a condition to wait on state changes."""

    idn = "EMULATED,INSTRUMENT,0,0"

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.received: list[str] = []
        self.mute = False
        self.replies: dict[str, str] = {}
        self.changed = threading.Condition()
        self.last_activity = time.monotonic()

    def handle(self, line: str) -> str | None:
        line = line.strip()
        if not line:
            return None
        with self.changed:
            self.received.append(line)
            self.last_activity = time.monotonic()
            try:
                reply = self._common(line)
                if reply is NotImplemented:
                    reply = self.command(line)
            except ValueError as exc:
                self.errors.append(f'-224,"Illegal parameter value: {exc}"')
                reply = None
            finally:
                self.changed.notify_all()
        if self.mute:
            return None
        head = line.split()[0].upper()
        return self.replies.get(head, reply)

    def _common(self, line: str) -> object:
        upper = line.upper()
        if upper == "*IDN?":
            return self.idn
        if upper == "*OPC?":
            return "1"
        if upper in ("*CLS", "*RST"):
            if upper == "*RST":
                self.reset()
            self.errors.clear()
            return None
        if upper in ("SYST:ERR?", ":SYST:ERR?", "SYSTEM:ERROR?"):
            return self.errors.pop(0) if self.errors else '+0,"No error"'
        return NotImplemented

    def undefined(self, line: str) -> None:
        self.errors.append(f'-113,"Undefined header; {line}"')

    def reset(self) -> None:
        pass

    def command(self, line: str) -> str | None:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """Called by the server a few times a second (watchdogs)."""

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until the instrument's state satisfies `predicate` (bounded)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)


# --------------------------------------------------------------------------- Siglent SDG


class SiglentSdgEmulator(ScpiEmulator):
    idn = "Siglent Technologies,SDG1032X,SDG1XEMU000001,1.01.01.33R1B6"

    def __init__(self) -> None:
        super().__init__()
        self.channels = {1: self._default(), 2: self._default()}

    @staticmethod
    def _default() -> dict[str, object]:
        return {"WVTP": "SINE", "FRQ": 1000.0, "HLEV": 2.0, "LLEV": -2.0, "OFST": 0.0, "DUTY": 50.0,
                "OUTP": "OFF", "LOAD": "50"}

    def reset(self) -> None:
        self.channels = {1: self._default(), 2: self._default()}

    def output_on(self, channel: int = 1) -> bool:
        return self.channels[channel]["OUTP"] == "ON"

    def command(self, line: str) -> str | None:
        match = re.match(r"^C([12]):(BSWV|BASIC_WAVE|OUTP|OUTPUT)(\?)?\s*(.*)$", line, re.IGNORECASE)
        if not match:
            self.undefined(line)
            return None
        ch = self.channels[int(match.group(1))]
        what = "OUTP" if match.group(2).upper().startswith("OUTP") else "BSWV"
        query, args = match.group(3), match.group(4).strip()
        n = match.group(1)
        if what == "OUTP":
            if query:
                return f"C{n}:OUTP {ch['OUTP']},LOAD,{'HZ' if ch['LOAD'] == 'HZ' else ch['LOAD']},PLRT,NOR"
            words = [w.strip().upper() for w in args.split(",")]
            if words[0] in ("ON", "OFF"):
                ch["OUTP"] = words[0]
            elif words[0] == "LOAD" and len(words) > 1:
                ch["LOAD"] = words[1]
            else:
                raise ValueError(line)
            return None
        if query:
            return self._bswv(int(n))
        pairs = [p.strip() for p in args.split(",")]
        if len(pairs) % 2:
            raise ValueError(line)
        for key, value in zip(pairs[::2], pairs[1::2], strict=False):
            key = key.upper()
            if key == "WVTP":
                if value.upper() not in ("SINE", "SQUARE", "RAMP", "PULSE", "NOISE", "ARB", "DC"):
                    raise ValueError(value)
                ch["WVTP"] = value.upper()
            elif key in ("FRQ", "HLEV", "LLEV", "OFST", "DUTY"):
                number = float(value)
                if key in ("HLEV", "LLEV", "OFST") and abs(number) > 10.0:
                    raise ValueError(f"{key} {number} out of range")  # ±10 V into high-Z
                if key == "DUTY" and not 0.01 <= number <= 99.99:
                    raise ValueError(f"DUTY {number} out of range")
                ch[key] = number
            else:
                raise ValueError(key)
        return None

    def _bswv(self, n: int) -> str:
        ch = self.channels[n]
        if ch["WVTP"] == "DC":
            return f"C{n}:BSWV WVTP,DC,OFST,{ch['OFST']:g}V"
        amp = float(ch["HLEV"]) - float(ch["LLEV"])  # type: ignore[arg-type]
        return (f"C{n}:BSWV WVTP,{ch['WVTP']},FRQ,{ch['FRQ']:g}HZ,PERI,{1 / float(ch['FRQ']):g}S,AMP,{amp:g}V,"  # type: ignore[arg-type]
                f"OFST,{(float(ch['HLEV']) + float(ch['LLEV'])) / 2:g}V,HLEV,{ch['HLEV']:g}V,"  # type: ignore[arg-type]
                f"LLEV,{ch['LLEV']:g}V,PHSE,0,DUTY,{ch['DUTY']:g}")


# --------------------------------------------------------------------------- DC supply


class DcSupplyEmulator(ScpiEmulator):
    """One-channel programmable supply feeding a resistive load (`load_ohm`; None = open circuit)."""

    idn = "Keysight Technologies,N6751A,MY00000042,D.01.09"

    def __init__(self, load_ohm: float | None = 50.0, max_voltage: float = 60.0, max_current: float = 5.0) -> None:
        super().__init__()
        self.load_ohm, self.max_voltage, self.max_current = load_ohm, max_voltage, max_current
        self.voltage, self.current, self.output, self.ovp = 0.0, 0.0, False, max_voltage * 1.1
        self.watchdog, self.watchdog_delay, self.watchdog_tripped = False, 60.0, False

    def measured(self) -> tuple[float, float]:
        """(V, I) at the output terminals: CV until the load wants more than the current limit, then CC."""
        if not self.output:
            return 0.0, 0.0
        if self.load_ohm is None:
            return self.voltage, 0.0
        current = self.voltage / self.load_ohm
        if current > self.current:
            return self.current * self.load_ohm, self.current
        return self.voltage, current

    def command(self, line: str) -> str | None:
        upper = line.upper()
        words = upper.split()
        head, arg = words[0], (words[1] if len(words) > 1 else "")
        if head in ("VOLT?", "SOUR:VOLT?"):
            return f"{self.voltage:.4f}"
        if head in ("CURR?", "SOUR:CURR?"):
            return f"{self.current:.4f}"
        if head in ("MEAS:VOLT?", "MEAS:VOLT:DC?"):
            return f"{self.measured()[0]:.4f}"
        if head in ("MEAS:CURR?", "MEAS:CURR:DC?"):
            return f"{self.measured()[1]:.4f}"
        if head in ("OUTP?", "OUTP:STAT?"):
            return "1" if self.output else "0"
        if head == "VOLT:PROT?":
            return f"{self.ovp:.4f}"
        if head == "OUTP:PROT:WDOG?":
            return "1" if self.watchdog else "0"
        if head in ("VOLT", "SOUR:VOLT"):
            value = float(arg)
            if not 0 <= value <= self.max_voltage:
                raise ValueError(f"VOLT {value}")
            self.voltage = value
        elif head in ("CURR", "SOUR:CURR"):
            value = float(arg)
            if not 0 <= value <= self.max_current:
                raise ValueError(f"CURR {value}")
            self.current = value
        elif head == "VOLT:PROT":
            self.ovp = float(arg)
        elif head in ("OUTP", "OUTP:STAT"):
            if arg not in ("ON", "OFF", "1", "0"):
                raise ValueError(arg)
            on = arg in ("ON", "1")
            if on and self.voltage > self.ovp:
                self.errors.append('-221,"Settings conflict; voltage above OVP"')
                return None
            self.output = on
            if on:
                self.watchdog_tripped = False
        elif head == "OUTP:PROT:WDOG":
            self.watchdog = arg in ("ON", "1")
        elif head == "OUTP:PROT:WDOG:DEL":
            self.watchdog_delay = float(arg)
        else:
            self.undefined(line)
        return None

    def tick(self, now: float) -> None:
        with self.changed:
            if self.watchdog and self.output and now - self.last_activity > self.watchdog_delay:
                self.output, self.watchdog_tripped = False, True
                self.changed.notify_all()


# --------------------------------------------------------------------------- the socket


class ScpiSocketServer:
    """Serve `emulator` on 127.0.0.1 (any free port); one client at a time, as most LAN instruments allow."""

    def __init__(self, emulator: ScpiEmulator, port: int = 0) -> None:
        self.emulator = emulator
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(4)
        self.port = self._listener.getsockname()[1]
        self.resource = f"TCPIP0::127.0.0.1::{self.port}::SOCKET"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"scpi-emulator {self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        clients: dict[socket.socket, bytes] = {}
        while not self._stop.is_set():
            readable, _, _ = select.select([self._listener, *clients], [], [], 0.05)
            self.emulator.tick(time.monotonic())
            for sock in readable:
                if sock is self._listener:
                    client, _ = self._listener.accept()
                    clients[client] = b""
                    self.connections += 1
                    continue
                try:
                    chunk = sock.recv(4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    clients.pop(sock)
                    sock.close()
                    continue
                pending = clients[sock] + chunk
                while b"\n" in pending:
                    raw, pending = pending.split(b"\n", 1)
                    reply = self.emulator.handle(raw.decode("ascii", errors="replace"))
                    if reply is not None:
                        with contextlib.suppress(OSError):
                            sock.sendall(reply.encode("ascii") + b"\n")
                clients[sock] = pending
        for sock in clients:
            sock.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> ScpiSocketServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
