"""`[cp] driver = "serial"`: a small CP board on a serial port (USB CDC), speaking a line protocol.

The board carries the EVSE circuit (±12 V behind 1 kΩ, PWM), the vehicle circuit (diode, R2, R3 for C/D via
relays, fault relays) or both (`side = "evse" | "pev" | "both"`), and measures the pilot. Protocol version 1:

    host → board: one command per line, ASCII, terminated by "\\n" ("\\r\\n" accepted); empty lines are ignored
    board → host: exactly one line per command: "OK", a value, or "ERR <reason>"

    *IDN?              CCSHIL-CPBOARD,<model>,<serial>,<firmware>
    PROTO?             1
    CAP?               the sides/features it has, e.g. "EVSE PEV FAULTS MEAS"
    OFF                OK    EVSE side: oscillator off, CP output open (the safe state)
    DC                 OK    EVSE side: +12 V steady (X1)
    PWM <duty>         OK    EVSE side: 1 kHz ±12 V PWM, duty in percent, 0.1 resolution (X2)
    STATE E|F          OK    EVSE side: force 0 V (E) or −12 V (F)
    OSC?               OFF | DC | PWM <duty> | E | F        (read-back of the oscillator)
    LOAD A|B|C|D       OK    vehicle side: open / R2 / R2 ∥ 1.3 kΩ / R2 ∥ 270 Ω
    FAULT NONE|NODIODE|SHORT   OK    vehicle side: bypass the diode / short CP to PE
    LOAD?              <A|B|C|D> <NONE|NODIODE|SHORT>
    MEAS?              <high V> <low V> <duty %> <frequency Hz>, e.g. "8.98 -12.00 5.0 1000.0";
                       without PWM: duty 100 and frequency 0 (low = high)
    STATE?             the board's own classification: A..F or ?
    SAFE               OK    OFF, LOAD A, FAULT NONE, RELAY OFF (whatever the board has)

  optional, listed by CAP? when fitted:
    WDOG <s>           OK    watchdog: no command line for <s> seconds → SAFE (0 disarms); any line re-arms it
    WDOG?              "<s> ARMED" | "0 OFF" | "<s> TRIPPED"
    PING               OK    a heartbeat that changes nothing
    RELAY ON|OFF       OK    an auxiliary relay (e.g. the lamp load of a `bulb` power stage)
    RELAY?             ON | OFF

Errors: "ERR unknown command", "ERR bad argument", "ERR not supported" (side not fitted), "ERR busy".

Safety: the harness sends OFF / LOAD A / FAULT NONE itself on every exit path it lives through (end of test,
failure, timeout, Ctrl-C, SIGTERM). For the ones it does not (killed, crashed, USB unplugged, PC off), a board
with `WDOG` is armed with `watchdog_s` on open and a heartbeat thread sends PING every quarter of it for as long
as the session holds the port: when the heartbeats stop, the board goes SAFE by itself within `watchdog_s`.
`harness.sim.cp_board` is an emulator of this board (used by the tests through a pseudo-terminal).
"""

from __future__ import annotations

import contextlib
import errno
import threading
from typing import Any

from harness.drivers import (
    Check,
    InstrumentError,
    InstrumentTimeout,
    ResourceUnavailable,
    RigMismatch,
    register,
)
from harness.drivers.cp import CpGenerator, CpLoad, CpSetting, PolledCpLink
from harness.drivers.dut_seat import seat_simulated_dut
from harness.drivers.heartbeat import Heartbeat
from harness.options import Opt
from harness.sim import car_cp, charger_cp
from stack import cp

PROTOCOL_VERSION = "1"
SIDES = {"evse": {"cp-generator", "cp-measurement", "cp-pwm-measurement"},
         "pev": {"cp-load", "cp-load-faults", "cp-measurement", "cp-pwm-measurement"}}
FAULT_WORDS = {None: "NONE", "no-diode": "NODIODE", "short-to-pe": "SHORT"}

OPTIONS = {
    "port": Opt(str, doc="serial device, e.g. /dev/ttyACM0 (required unless emulate = true)"),
    "emulate": Opt(bool, default=False, doc="serve the board emulator (harness.sim.cp_board) on a pseudo-terminal "
                                            "and talk to it through this driver: the serial path without a board"),
    "baudrate": Opt(int, default=115200, min=1),
    "side": Opt(str, default="evse", choices=("evse", "pev", "both"), doc="which circuits the board has"),
    "timeout_ms": Opt(int, default=1000, min=1, doc="reply timeout per command"),
    "idn_prefix": Opt(str, default="CCSHIL-CPBOARD", doc="*IDN? must start with this"),
    "poll_interval_ms": Opt(int, default=50, min=1, doc="how often the pilot is measured during waits"),
    "watchdog_s": Opt(float, default=2.0, min=0, doc="arm the board's watchdog (0: off); heartbeats every 1/4"),
    "car": Opt(dict, default={}, schema=car_cp.CAR_OPTIONS, doc="loopback rigs: our simulated vehicle in the DUT "
                                                               "seat"),
    "charger": Opt(dict, default={}, schema=charger_cp.CHARGER_OPTIONS, doc="loopback rigs: our simulated charger "
                                                                           "in the DUT seat"),
}


def check_options(options: dict[str, Any]) -> list[tuple[str, str]]:
    if not options.get("port") and not options.get("emulate"):
        return [("cp.port", "missing (the board's serial device, e.g. /dev/ttyACM0; or emulate = true)")]
    return []


def capabilities(options: dict[str, Any]) -> set[str]:
    side = options.get("side", "evse")
    return SIDES["evse"] | SIDES["pev"] if side == "both" else set(SIDES[side])


class CpBoard:
    """The serial connection and the protocol; errors name the port and the command."""

    def __init__(self, port: str, baudrate: int = 115200, timeout_ms: int = 1000, need: str = "cp-board") -> None:
        import serial

        self.port, self.timeout_ms = port, timeout_ms
        self.label = f"CP board {port}"
        self.idn = ""
        self.features: set[str] = set()
        self.lock = threading.RLock()  # the heartbeat thread and the test share the port
        self.heartbeat: Heartbeat | None = None
        try:
            self._serial = serial.Serial(port, baudrate, timeout=timeout_ms / 1000.0, write_timeout=timeout_ms / 1000.0,
                                         exclusive=True)
        except serial.SerialException as exc:
            missing = getattr(exc, "errno", None) == errno.ENOENT or "No such file" in str(exc)
            what = "not found" if missing else f"cannot be opened ({exc})"
            raise ResourceUnavailable(need, f"serial CP board at {port} {what}") from None

    def command(self, line: str) -> str:
        """Send one command, return its reply; "ERR ..." raises."""
        import serial

        try:
            with self.lock:
                self._serial.write(line.encode("ascii") + b"\n")
                raw = self._serial.readline()
        except (OSError, serial.SerialException) as exc:
            raise InstrumentError(f"{self.label}: {line!r} failed: {exc}") from None
        if not raw.endswith(b"\n"):
            raise InstrumentTimeout(f"{self.label}: no answer to {line!r} within {self.timeout_ms} ms"
                                    + (f" (got {raw!r})" if raw else ""))
        reply = raw.decode("ascii", errors="replace").strip()
        if reply.startswith("ERR"):
            raise InstrumentError(f"{self.label}: {line!r} refused: {reply[3:].strip() or 'no reason given'}")
        return reply

    def ok(self, line: str) -> None:
        reply = self.command(line)
        if reply != "OK":
            raise InstrumentError(f"{self.label}: {line!r} answered {reply!r}, expected OK")

    def resync(self) -> None:
        """Drop a half-sent command and any late reply (after Ctrl-C in the middle of an exchange)."""
        with self.lock:
            self._resync()

    def _resync(self) -> None:
        old = self._serial.timeout
        try:
            self._serial.write(b"\n")
            self._serial.flush()
            self._serial.timeout = 0.02  # a reply still in flight arrives within this; read until quiet
            for _ in range(50):
                if not self._serial.read(4096):
                    break
        except OSError:
            pass
        finally:
            self._serial.timeout = old

    def identify(self, prefix: str) -> str:
        idn = self.command("*IDN?")
        if not idn.startswith(prefix):
            raise InstrumentError(f"{self.label}: *IDN? answered {idn!r}, expected {prefix},... (a ccs-hil CP "
                                  "board; rig option cp.idn_prefix)")
        version = self.command("PROTO?")
        if version != PROTOCOL_VERSION:
            raise InstrumentError(f"{self.label}: speaks protocol {version!r}, this ccs-hil speaks {PROTOCOL_VERSION}")
        self.idn = idn
        self.features = set(self.command("CAP?").upper().split())
        return idn

    # ------------------------------------------------------------------ watchdog

    def arm_watchdog(self, seconds: float) -> bool:
        """Arm the board's watchdog and keep it fed from a thread; False when the board has none."""
        if seconds <= 0 or "WDOG" not in self.features:
            return False
        self.ok(f"WDOG {seconds:g}")
        self.heartbeat = Heartbeat(seconds / 4.0, lambda: self.ok("PING"), self.port)
        return True

    def stop_heartbeat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None

    def watchdog_state(self) -> str:
        return self.command("WDOG?") if "WDOG" in self.features else "none"

    def measure(self) -> cp.CpReading:
        reply = self.command("MEAS?")
        try:
            high, low, duty, frequency = (float(v) for v in reply.split())
        except ValueError:
            raise InstrumentError(f"{self.label}: 'MEAS?' answered {reply!r}, expected '<high> <low> <duty> "
                                  "<frequency>'") from None
        if duty >= 100.0 or frequency <= 0.0:
            return cp.classify(high)
        return cp.classify(high, low, duty, frequency)

    def close(self) -> None:
        """Stop feeding the watchdog and release the port (after SAFE; a clean end disarms the watchdog)."""
        self.stop_heartbeat()
        if "WDOG" in self.features:
            with contextlib.suppress(InstrumentError):
                self.ok("WDOG 0")
        self._serial.close()


class SerialCpGenerator(CpGenerator):
    def __init__(self, board: CpBoard, max_current_a: float | None) -> None:
        super().__init__(f"cp-generator {board.port}", can_measure=True, max_current_a=max_current_a)
        self.board = board

    def _apply(self, setting: CpSetting) -> None:
        if setting.mode == "pwm":
            assert setting.duty is not None
            command, expect = f"PWM {setting.duty:.1f}", f"PWM {setting.duty:.1f}"
        else:
            command = {"off": "OFF", "dc": "DC", "E": "STATE E", "F": "STATE F"}[setting.mode]
            expect = {"off": "OFF", "dc": "DC", "E": "E", "F": "F"}[setting.mode]
        self.board.ok(command)
        readback = self.board.command("OSC?")
        if readback != expect:
            raise InstrumentError(f"{self.board.label}: 'OSC?' answered {readback!r} after {command!r}")

    def _measure(self) -> cp.CpReading:
        return self.board.measure()

    def _safe(self) -> None:
        self.board.resync()
        self.board.ok("OFF")


class SerialCpLoad(CpLoad):
    def __init__(self, board: CpBoard) -> None:
        super().__init__(f"cp-load {board.port}", can_measure=True, can_fault=True)
        self.board = board

    def _set_state(self, state: str) -> None:
        self.board.ok(f"LOAD {state}")

    def _set_fault(self, fault: str | None) -> None:
        self.board.ok(f"FAULT {FAULT_WORDS[fault]}")

    def _measure(self) -> cp.CpReading:
        return self.board.measure()

    def _safe(self) -> None:
        self.board.resync()
        self.board.ok("FAULT NONE")
        self.board.ok("LOAD A")


def port_of(options: dict[str, Any], session: Any) -> str:
    """The board's serial device; with `emulate`, the pty of a board emulator served for the whole session."""
    if not options.get("emulate"):
        return options["port"]

    def serve() -> Any:
        from harness.sim.cp_board import CpBoardEmulator, PtyCpBoard

        return PtyCpBoard(CpBoardEmulator(side=options["side"]))

    return session.get(("cp-board-emulator", options["side"]), serve).port


def open_board(options: dict[str, Any], session: Any) -> CpBoard:
    need = "cp-load" if options["side"] == "pev" else "cp-generator"
    port = port_of(options, session)

    def opener() -> CpBoard:
        board = CpBoard(port, options["baudrate"], options["timeout_ms"], need=need)
        try:
            board.identify(options["idn_prefix"])
            missing = [s.upper() for s in (("evse", "pev") if options["side"] == "both" else (options["side"],))
                       if s.upper() not in board.features]
            if missing:
                raise RigMismatch(f"{board.label}: the rig says side = {options['side']!r} but the board has no "
                                  f"{' and no '.join(missing)} circuit (CAP? answered {' '.join(sorted(board.features))!r})",
                                  "correct cp.side in the rig file, or fit the circuit")
            for command in {"evse": ("OFF",), "pev": ("FAULT NONE", "LOAD A"), "both": ("SAFE",)}[options["side"]]:
                board.ok(command)  # start from the safe state of the circuits this rig uses
            board.arm_watchdog(options["watchdog_s"])
        except BaseException:
            board.close()
            raise
        return board

    return session.get(("serial", port), opener)


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    from harness.drivers.cp import level_checks
    from harness.startup import opened

    name = f"cp board ({options['port'] or 'emulated'})"
    checks = level_checks(name, cp.GENERATOR_HIGH_V, cp.GENERATOR_LOW_V, None, None, "", ctx.rig.limits)
    if any(not c.ok for c in checks):
        return checks
    board, failed = opened(name, "", lambda: open_board(options, ctx.session),
                           "check cp.port (is it the CP board?) and cp.idn_prefix")
    if board is None:
        return checks + failed
    checks.append(Check.passed(name, f"*IDN? {board.idn!r}, protocol {PROTOCOL_VERSION}, has "
                                     f"{' '.join(sorted(board.features))}; safe"))
    if options["watchdog_s"] > 0:
        state = board.watchdog_state()
        if state == "none":
            checks.append(Check.passed(f"{name}: watchdog", "the board has no WDOG command: nothing switches the "
                                       "pilot off if this process dies (update the board's firmware)"))
        else:
            checks.append(Check.passed(f"{name}: watchdog", f"armed ({state}), heartbeat every "
                                       f"{options['watchdog_s'] / 4:g} s"))
    return checks


@register("cp", "serial", options=OPTIONS, capabilities=capabilities, startup=startup, check=check_options)
def build(options: dict[str, Any], bench: Any) -> PolledCpLink:
    """Serial CP board (line protocol v1, see module docstring)."""
    board = open_board(options, bench.session)
    side = options["side"]
    generator = SerialCpGenerator(board, bench.rig.limits.get("max_current_a")) if side in ("evse", "both") else None
    load = SerialCpLoad(board) if side in ("pev", "both") else None
    link = PolledCpLink(bench.runner, options["poll_interval_ms"] / 1000.0, generator=generator, load=load)
    seat_simulated_dut(link, bench, options["car"], options["charger"])
    return link
