"""`[cp] driver = "scpi"`: a function generator as the EVSE-side CP source, optionally a scope or DMM to measure.

Generator (Keysight 33500B-class SCPI, channel `n`):

| CP setting     | commands                                                                                  |
|----------------|-------------------------------------------------------------------------------------------|
| PWM, duty d    | SOURn:FUNC SQU; SOURn:FREQ 1000; SOURn:VOLT:HIGH h; SOURn:VOLT:LOW l; SOURn:FUNC:SQU:DCYC d; OUTPn 1 |
| +12 V (X1)     | SOURn:FUNC DC; SOURn:VOLT:OFFS h; OUTPn 1                                                  |
| E / F          | SOURn:FUNC DC; SOURn:VOLT:OFFS 0 / l; OUTPn 1                                              |
| off (safe)     | OUTPn 0                                                                                   |

`h`/`l` are the CP levels (±12 V) divided by `amplifier_gain` (default 2: a 33500B swings ±10 V at most, so
rigs put a CP buffer amplifier after it; the instrument's own range check reports a level it cannot make). Each setting is followed by `SYST:ERR?` and a read-back of the function, duty
and output state, so an instrument that clamps or ignores a value is caught. On open the generator is checked
with `*IDN?` (pattern `idn_pattern`), cleared (`*CLS`), switched off and set to high-impedance load.

Measurement (`[cp.measure]`, optional): `kind = "scope"` (InfiniiVision-style `:MEAS:VMAX?/VMIN?/DUTY?/FREQ?
CHANn`: levels, negative half, duty and frequency) or `kind = "dmm"` (`MEAS:VOLT:DC?`: the mean, from which the
positive level is derived while PWM runs, assuming the negative half at `low_v`; no diode check).
"""

from __future__ import annotations

from typing import Any

from harness.drivers import InstrumentError, register
from harness.drivers.cp import CpGenerator, CpSetting, PolledCpLink
from harness.drivers.scpi import ScpiInstrument, number
from harness.options import Opt
from stack import cp

NO_VALUE = 9.9e37  # what InfiniiVision scopes return when a measurement has no edges

MEASURE_OPTIONS = {
    "kind": Opt(str, required=True, choices=("scope", "dmm"), doc="what measures the pilot"),
    "resource": Opt(str, required=True, doc="VISA resource of the measuring instrument"),
    "visa_library": Opt(str, doc="VISA library for it (default: the generator's)"),
    "channel": Opt(int, default=1, min=1),
    "scale": Opt(float, default=1.0, doc="multiply readings (an external divider); probe attenuation is set "
                                         "on the scope"),
    "timeout_ms": Opt(int, default=2000, min=1),
}

OPTIONS = {
    "resource": Opt(str, required=True, doc="VISA resource of the function generator"),
    "visa_library": Opt(str, default="@py", doc="'@py' (pyvisa-py), '' (NI-VISA) or 'file.yaml@sim'"),
    "channel": Opt(int, default=1, choices=(1, 2)),
    "high_v": Opt(float, default=cp.GENERATOR_HIGH_V, doc="CP positive level"),
    "low_v": Opt(float, default=cp.GENERATOR_LOW_V, doc="CP negative level"),
    "amplifier_gain": Opt(float, default=2.0, min=0.01, doc="gain of the CP buffer after the generator (a 33500B "
                                                           "swings ±10 V at most, so ±12 V needs a buffer)"),
    "idn_pattern": Opt(str, default=r",33[56]\d\d[AB],", doc="regular expression *IDN? must match"),
    "timeout_ms": Opt(int, default=2000, min=1),
    "poll_interval_ms": Opt(int, default=50, min=1, doc="how often the pilot is measured during waits"),
    "measure": Opt(dict, schema=MEASURE_OPTIONS, doc="optional measuring instrument"),
}


def capabilities(options: dict[str, Any]) -> set[str]:
    caps = {"cp-generator"}
    measure = options.get("measure")
    if measure:
        caps.add("cp-measurement")
        if measure["kind"] == "scope":
            caps.add("cp-pwm-measurement")
    return caps


class ScpiMeter:
    def __init__(self, instrument: ScpiInstrument, kind: str, channel: int, scale: float, low_v: float) -> None:
        self.instrument, self.kind, self.channel, self.scale, self.low_v = instrument, kind, channel, scale, low_v

    def read(self, setting: CpSetting) -> cp.CpReading:
        if self.kind == "dmm":
            mean = self.instrument.query_float("MEAS:VOLT:DC?") * self.scale
            if setting.mode == "pwm" and setting.duty:
                fraction = setting.duty / 100.0
                return cp.classify((mean - (1 - fraction) * self.low_v) / fraction, None, setting.duty)
            return cp.classify(mean)
        ch = f"CHAN{self.channel}"
        high = self.instrument.query_float(f":MEAS:VMAX? {ch}") * self.scale
        low = self.instrument.query_float(f":MEAS:VMIN? {ch}") * self.scale
        duty = self.instrument.query_float(f":MEAS:DUTY? {ch}")
        frequency = self.instrument.query_float(f":MEAS:FREQ? {ch}")
        if duty >= NO_VALUE or frequency >= NO_VALUE:
            return cp.classify(high)
        return cp.classify(high, low, duty, frequency)


class ScpiCpGenerator(CpGenerator):
    def __init__(self, instrument: ScpiInstrument, options: dict[str, Any], meter: ScpiMeter | None,
                 max_current_a: float | None) -> None:
        super().__init__(f"cp-generator {instrument.resource}", can_measure=meter is not None,
                         max_current_a=max_current_a)
        self.instrument, self.meter = instrument, meter
        self.ch = options["channel"]
        self.high = options["high_v"] / options["amplifier_gain"]
        self.low = options["low_v"] / options["amplifier_gain"]

    def _send(self, *commands: str) -> None:
        for command in commands:
            self.instrument.write(command)
        self.instrument.check_errors(after="; ".join(commands))

    def _expect(self, query: str, accept: tuple[str, ...]) -> None:
        reply = self.instrument.query(query)
        if reply.upper() not in accept:
            raise InstrumentError(f"{self.label}: {query!r} answered {reply!r} after setting it, expected "
                                  f"{' or '.join(accept)}")

    def _apply(self, setting: CpSetting) -> None:
        n = self.ch
        if setting.mode == "off":
            self._send(f"OUTP{n} 0")
            self._expect(f"OUTP{n}?", ("0", "OFF"))
            return
        if setting.mode == "pwm":
            assert setting.duty is not None
            self._send(f"SOUR{n}:FUNC SQU", f"SOUR{n}:FREQ {number(cp.PWM_FREQUENCY_HZ)}",
                       f"SOUR{n}:VOLT:HIGH {number(self.high)}", f"SOUR{n}:VOLT:LOW {number(self.low)}",
                       f"SOUR{n}:FUNC:SQU:DCYC {number(setting.duty)}")
            self._expect(f"SOUR{n}:FUNC?", ("SQU", "SQUARE"))
            duty = self.instrument.query_float(f"SOUR{n}:FUNC:SQU:DCYC?")
            if abs(duty - setting.duty) > 0.01:
                raise InstrumentError(f"{self.label}: duty reads back {duty:g} % after setting {setting.duty:g} %")
        else:
            level = {"dc": self.high, "E": 0.0, "F": self.low}[setting.mode]
            self._send(f"SOUR{n}:FUNC DC", f"SOUR{n}:VOLT:OFFS {number(level)}")
            self._expect(f"SOUR{n}:FUNC?", ("DC",))
        self._send(f"OUTP{n} 1")
        self._expect(f"OUTP{n}?", ("1", "ON"))

    def _measure(self) -> cp.CpReading:
        assert self.meter is not None
        return self.meter.read(self.setting)

    def _safe(self) -> None:
        self.instrument.clear()
        self.instrument.write(f"OUTP{self.ch} 0")
        self._expect(f"OUTP{self.ch}?", ("0", "OFF"))


def open_generator(options: dict[str, Any], session: Any) -> ScpiInstrument:
    """Open (once per session) and prepare the generator: identity, clear, output off, high-Z load."""

    def opener() -> ScpiInstrument:
        instrument = ScpiInstrument(options["resource"], options["visa_library"], options["timeout_ms"],
                                    need="cp-generator")
        try:
            instrument.identify(options["idn_pattern"], "a Keysight 33500B/33600A-class function generator "
                                f"(rig option cp.idn_pattern = {options['idn_pattern']!r})")
            n = options["channel"]
            instrument.write("*CLS")
            instrument.drain_errors()
            instrument.write(f"OUTP{n} 0")
            instrument.write(f"OUTP{n}:LOAD INF")
            instrument.write(f"SOUR{n}:FREQ {number(cp.PWM_FREQUENCY_HZ)}")
            instrument.check_errors(after="initial set-up")
        except BaseException:
            instrument.close()
            raise
        return instrument

    return session.get(("visa", options["visa_library"], options["resource"]), opener)


def open_meter(options: dict[str, Any], session: Any) -> ScpiMeter | None:
    measure = options.get("measure")
    if not measure:
        return None
    library = measure["visa_library"] or options["visa_library"]

    def opener() -> ScpiInstrument:
        instrument = ScpiInstrument(measure["resource"], library, measure["timeout_ms"], need="cp-measurement")
        instrument.query("*IDN?")  # it answers: the resource is the instrument we talk to
        return instrument

    instrument = session.get(("visa", library, measure["resource"]), opener)
    return ScpiMeter(instrument, measure["kind"], measure["channel"], measure["scale"], options["low_v"])


@register("cp", "scpi", options=OPTIONS, capabilities=capabilities)
def build(options: dict[str, Any], bench: Any) -> PolledCpLink:
    """Function generator over SCPI (pyvisa), optional scope/DMM."""
    instrument = open_generator(options, bench.session)
    meter = open_meter(options, bench.session)
    generator = ScpiCpGenerator(instrument, options, meter, bench.rig.limits.get("max_current_a"))
    return PolledCpLink(bench.runner, options["poll_interval_ms"] / 1000.0, generator=generator)
