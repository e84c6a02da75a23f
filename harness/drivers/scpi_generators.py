"""SCPI dialects of the function generators a CP bench uses, behind one small interface.

| dialect         | instruments                        | PWM                                             | output        |
|-----------------|------------------------------------|-------------------------------------------------|---------------|
| `keysight-33500`| Keysight 33500B / 33600A           | SOURn:FUNC SQU, FREQ, VOLT:HIGH/LOW, FUNC:SQU:DCYC | OUTPn 1/0  |
| `rigol-dg`      | Rigol DG1000Z / DG800 / DG900      | :SOURn:FUNC SQU, :FREQ, :VOLT:HIGH/LOW, :FUNC:SQU:DCYC | :OUTPn ON/OFF |
| `siglent-sdg`   | Siglent SDG1000X / 2000X / 6000X   | Cn:BSWV WVTP,SQUARE / FRQ / HLEV / LLEV / DUTY  | Cn:OUTP ON/OFF |

+12 V (X1) and the forced states E (0 V) / F (−12 V) are the DC function with an offset. After every setting the
instrument is read back (function, duty, levels where the dialect can, output state) and — where the dialect has
one — its error queue is read, so an instrument that clamps, ignores or refuses a value is caught at once, naming
the command. All three swing ±10 V at most into a high impedance (`max_output_v`), so a CP bench puts a ±12 V
buffer amplifier after them (`amplifier_gain`); the start-up checks refuse a level the generator cannot make.

Watchdog: none of these SCPI sets has a host watchdog that switches the output off when the controlling PC
stops talking (see README "Safety"); wire the CP buffer's supply or enable through a watchdog relay (the serial
CP board's `WDOG`, or a USB relay with a hardware watchdog) when an unattended bench needs one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.drivers import InstrumentError
from harness.drivers.cp import CpSetting
from harness.drivers.scpi import ScpiInstrument, number
from stack import cp


@dataclass
class GeneratorDialect:
    """How one family of generators is told to make the pilot; `instrument` is the open VISA session."""

    instrument: ScpiInstrument
    channel: int = 1

    name = ""
    expected = ""  # what *IDN? should say, in words
    idn_pattern = ""
    max_output_v = 10.0  # into high-Z
    has_error_queue = True

    @property
    def label(self) -> str:
        return self.instrument.label

    def close(self) -> None:
        """End of the session: release the instrument."""
        self.instrument.close()

    # ------------------------------------------------------------------ the interface

    def setup(self) -> None:
        """After the identity check: clear, output off, high-impedance load, 1 kHz."""
        raise NotImplementedError

    def apply(self, setting: CpSetting, high: float, low: float) -> None:
        """Make `setting` with instrument levels `high`/`low` (before the amplifier), verified by read-back."""
        raise NotImplementedError

    def output_off(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers

    def send(self, *commands: str) -> None:
        for command in commands:
            self.instrument.write(command)
        if self.has_error_queue:
            self.instrument.check_errors(after="; ".join(commands))

    def expect(self, query: str, accept: tuple[str, ...]) -> None:
        reply = self.instrument.query(query)
        if reply.upper() not in accept:
            raise InstrumentError(f"{self.label}: {query!r} answered {reply!r} after setting it, expected "
                                  f"{' or '.join(accept)}")

    def expect_number(self, query: str, wanted: float, what: str, unit: str, tolerance: float = 0.01) -> None:
        value = self.instrument.query_float(query)
        if abs(value - wanted) > tolerance:
            raise InstrumentError(f"{self.label}: {what} reads back {value:g} {unit} after setting {wanted:g} {unit}")


class Keysight33500(GeneratorDialect):
    name = "keysight-33500"
    expected = "a Keysight 33500B/33600A-class function generator"
    idn_pattern = r",33[56]\d\d[AB],"
    query_prefix = "SOUR"
    on, off = "1", "0"
    on_replies, off_replies = ("1", "ON"), ("0", "OFF")

    def _src(self) -> str:
        return f"SOUR{self.channel}"

    def _outp(self) -> str:
        return f"OUTP{self.channel}"

    def setup(self) -> None:
        self.instrument.write("*CLS")
        self.instrument.drain_errors()
        self.instrument.write(f"{self._outp()} {self.off}")
        self.instrument.write(self._high_z())
        self.instrument.write(f"{self._src()}:FREQ {number(cp.PWM_FREQUENCY_HZ)}")
        self.instrument.check_errors(after="initial set-up")

    def _high_z(self) -> str:
        return f"{self._outp()}:LOAD INF"

    def apply(self, setting: CpSetting, high: float, low: float) -> None:
        s = self._src()
        if setting.mode == "off":
            self.output_off()
            return
        if setting.mode == "pwm":
            assert setting.duty is not None
            self.send(f"{s}:FUNC SQU", f"{s}:FREQ {number(cp.PWM_FREQUENCY_HZ)}", f"{s}:VOLT:HIGH {number(high)}",
                      f"{s}:VOLT:LOW {number(low)}", f"{s}:FUNC:SQU:DCYC {number(setting.duty)}")
            self.expect(f"{s}:FUNC?", ("SQU", "SQUARE"))
            self.expect_number(f"{s}:FUNC:SQU:DCYC?", setting.duty, "duty", "%")
        else:
            level = {"dc": high, "E": 0.0, "F": low}[setting.mode]
            self.send(f"{s}:FUNC DC", f"{s}:VOLT:OFFS {number(level)}")
            self.expect(f"{s}:FUNC?", ("DC",))
        self.send(f"{self._outp()} {self.on}")
        self.expect(f"{self._outp()}?", self.on_replies)

    def output_off(self) -> None:
        self.instrument.write(f"{self._outp()} {self.off}")
        self.expect(f"{self._outp()}?", self.off_replies)


class RigolDg(Keysight33500):
    """Rigol DG1000Z/DG800/DG900: the same SCPI tree with a leading colon, ON/OFF and :OUTPn:IMP."""

    name = "rigol-dg"
    expected = "a Rigol DG1000Z/DG800/DG900 function generator"
    idn_pattern = r"(?i)^RIGOL TECHNOLOGIES,DG(1\d\d\dZ|8\d\d|9\d\d)\b"
    on, off = "ON", "OFF"

    def _src(self) -> str:
        return f":SOUR{self.channel}"

    def _outp(self) -> str:
        return f":OUTP{self.channel}"

    def _high_z(self) -> str:
        return f"{self._outp()}:IMP INF"


_BSWV_PAIR = re.compile(r"([A-Z]+),([^,]*)")


class SiglentSdg(GeneratorDialect):
    """Siglent SDG: basic-wave parameters one by one (`Cn:BSWV KEY,value`), read back from `Cn:BSWV?`.

    The SDG has no SCPI error queue worth relying on; the read-back of every parameter is the check."""

    name = "siglent-sdg"
    expected = "a Siglent SDG1000X/2000X/6000X function generator"
    idn_pattern = r"(?i)^Siglent Technologies,SDG\d"
    has_error_queue = False

    def _c(self) -> str:
        return f"C{self.channel}"

    def setup(self) -> None:
        c = self._c()
        self.send(f"{c}:OUTP OFF", f"{c}:OUTP LOAD,HZ", f"{c}:BSWV FRQ,{number(cp.PWM_FREQUENCY_HZ)}")
        self._expect_output(False)
        if self.basic_wave().get("FRQ") != cp.PWM_FREQUENCY_HZ:
            raise InstrumentError(f"{self.label}: frequency did not take 1000 Hz ({self.instrument.query(c + ':BSWV?')})")

    def basic_wave(self) -> dict[str, float | str]:
        """`Cn:BSWV?` as a dict: numbers without their units, words as they are."""
        reply = self.instrument.query(f"{self._c()}:BSWV?")
        body = reply.split(" ", 1)[1] if " " in reply else reply
        out: dict[str, float | str] = {}
        for key, value in _BSWV_PAIR.findall(body):
            match = re.match(r"^(-?[\d.]+(?:E[-+]?\d+)?)", value, re.IGNORECASE)
            out[key] = float(match.group(1)) if match else value
        if "WVTP" not in out:
            raise InstrumentError(f"{self.label}: '{self._c()}:BSWV?' answered {reply!r}, expected WVTP,...")
        return out

    def apply(self, setting: CpSetting, high: float, low: float) -> None:
        c = self._c()
        if setting.mode == "off":
            self.output_off()
            return
        if setting.mode == "pwm":
            assert setting.duty is not None
            wanted: dict[str, float | str] = {"WVTP": "SQUARE", "FRQ": cp.PWM_FREQUENCY_HZ, "HLEV": high,
                                              "LLEV": low, "DUTY": setting.duty}
        else:
            wanted = {"WVTP": "DC", "OFST": {"dc": high, "E": 0.0, "F": low}[setting.mode]}
        self.send(*(f"{c}:BSWV {key},{value if isinstance(value, str) else number(value)}"
                    for key, value in wanted.items()))
        got = self.basic_wave()
        for key, value in wanted.items():
            have = got.get(key)
            same = have == value if isinstance(value, str) else (isinstance(have, float) and abs(have - value) <= 0.01)
            if not same:
                raise InstrumentError(f"{self.label}: {key} reads back {have!r} after setting {value!r}")
        self.send(f"{c}:OUTP ON")
        self._expect_output(True)

    def output_off(self) -> None:
        self.instrument.write(f"{self._c()}:OUTP OFF")
        self._expect_output(False)

    def _expect_output(self, on: bool) -> None:
        reply = self.instrument.query(f"{self._c()}:OUTP?")
        state = reply.split(" ", 1)[1].split(",")[0].upper() if " " in reply else reply.upper()
        if state != ("ON" if on else "OFF"):
            raise InstrumentError(f"{self.label}: '{self._c()}:OUTP?' answered {reply!r}, expected output "
                                  f"{'ON' if on else 'OFF'}")


DIALECTS: dict[str, type[GeneratorDialect]] = {d.name: d for d in (Keysight33500, RigolDg, SiglentSdg)}
