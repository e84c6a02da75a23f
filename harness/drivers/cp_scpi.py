"""`[cp] driver = "scpi"`: a function generator as the EVSE-side CP source, optionally a scope or DMM to measure.

The generator's SCPI dialect is chosen with `dialect` (`harness.drivers.scpi_generators`: `keysight-33500`
(default), `rigol-dg`, `siglent-sdg`); each checks every setting by read-back. The CP levels (±12 V) are divided
by `amplifier_gain` (default 2: these generators swing ±10 V at most, so rigs put a CP buffer amplifier after
them). On open the generator is checked with `*IDN?` (`idn_pattern`, default the dialect's), cleared, switched
off and set to high-impedance load.

Measurement (`[cp.measure]`, optional): `kind = "scope"` (InfiniiVision-style `:MEAS:VMAX?/VMIN?/DUTY?/FREQ?
CHANn`: levels, negative half, duty and frequency) or `kind = "dmm"` (`MEAS:VOLT:DC?`: the mean, from which the
positive level is derived while PWM runs, assuming the negative half at `low_v`; no diode check).

Start-up checks (once per session): the generator and the measuring instrument answer `*IDN?` as the rig file
says; the CP levels are within IEC 61851-1's 12 V ± 0.6 V; the generator can make them through the amplifier;
the rig's current limit is one a PWM duty can express.
"""

from __future__ import annotations

from typing import Any

from harness.drivers import Check, register
from harness.drivers.cp import CpGenerator, CpSetting, PolledCpLink
from harness.drivers.scpi import ScpiInstrument
from harness.drivers.scpi_generators import DIALECTS, GeneratorDialect
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
    "idn_pattern": Opt(str, doc="regular expression its *IDN? must match (default: any answer)"),
}

OPTIONS = {
    "resource": Opt(str, required=True, doc="VISA resource of the function generator"),
    "dialect": Opt(str, default="keysight-33500", choices=tuple(DIALECTS), doc="the generator's SCPI dialect"),
    "visa_library": Opt(str, default="@py", doc="'@py' (pyvisa-py), '' (NI-VISA) or 'file.yaml@sim'"),
    "channel": Opt(int, default=1, choices=(1, 2)),
    "high_v": Opt(float, default=cp.GENERATOR_HIGH_V, doc="CP positive level"),
    "low_v": Opt(float, default=cp.GENERATOR_LOW_V, doc="CP negative level"),
    "amplifier_gain": Opt(float, default=2.0, min=0.01, doc="gain of the CP buffer after the generator (a 33500B "
                                                           "swings ±10 V at most, so ±12 V needs a buffer)"),
    "idn_pattern": Opt(str, doc="regular expression *IDN? must match (default: the dialect's)"),
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
        return self.read_load()

    def read_load(self) -> cp.CpReading:
        """The pilot as the vehicle side sees it (whatever the charger drives): the scope measures it all, a DMM
        only the mean."""
        if self.kind == "dmm":
            return cp.classify(self.instrument.query_float("MEAS:VOLT:DC?") * self.scale)
        ch = f"CHAN{self.channel}"
        high = self.instrument.query_float(f":MEAS:VMAX? {ch}") * self.scale
        low = self.instrument.query_float(f":MEAS:VMIN? {ch}") * self.scale
        duty = self.instrument.query_float(f":MEAS:DUTY? {ch}")
        frequency = self.instrument.query_float(f":MEAS:FREQ? {ch}")
        if duty >= NO_VALUE or frequency >= NO_VALUE:
            return cp.classify(high)
        return cp.classify(high, low, duty, frequency)


class ScpiCpGenerator(CpGenerator):
    def __init__(self, dialect: GeneratorDialect, options: dict[str, Any], meter: ScpiMeter | None,
                 max_current_a: float | None) -> None:
        super().__init__(f"cp-generator {dialect.instrument.resource}", can_measure=meter is not None,
                         max_current_a=max_current_a)
        self.dialect, self.instrument, self.meter = dialect, dialect.instrument, meter
        self.high = options["high_v"] / options["amplifier_gain"]
        self.low = options["low_v"] / options["amplifier_gain"]

    def _apply(self, setting: CpSetting) -> None:
        self.dialect.apply(setting, self.high, self.low)

    def _measure(self) -> cp.CpReading:
        assert self.meter is not None
        return self.meter.read(self.setting)

    def _safe(self) -> None:
        self.instrument.clear()
        self.dialect.output_off()


def dialect_of(options: dict[str, Any]) -> type[GeneratorDialect]:
    return DIALECTS[options["dialect"]]


def open_generator(options: dict[str, Any], session: Any) -> GeneratorDialect:
    """Open (once per session) and prepare the generator: identity, clear, output off, high-Z load."""
    kind = dialect_of(options)
    pattern = options["idn_pattern"] or kind.idn_pattern

    def opener() -> GeneratorDialect:
        instrument = ScpiInstrument(options["resource"], options["visa_library"], options["timeout_ms"],
                                    need="cp-generator")
        try:
            instrument.idn = instrument.identify(pattern, f"{kind.expected} (rig option cp.idn_pattern = "
                                                          f"{pattern!r})")
            dialect = kind(instrument, options["channel"])
            dialect.setup()
        except BaseException:
            instrument.close()
            raise
        return dialect

    return session.get(("visa", options["visa_library"], options["resource"]), opener)


def open_meter(options: dict[str, Any], session: Any) -> ScpiMeter | None:
    measure = options.get("measure")
    if not measure:
        return None
    library = measure["visa_library"] or options["visa_library"]

    def opener() -> ScpiInstrument:
        instrument = ScpiInstrument(measure["resource"], library, measure["timeout_ms"], need="cp-measurement")
        try:
            instrument.idn = instrument.identify(measure["idn_pattern"] or ".", "the measuring instrument the "
                                                 f"rig file names (cp.measure.idn_pattern = {measure['idn_pattern']!r})")
        except BaseException:
            instrument.close()
            raise
        return instrument

    instrument = session.get(("visa", library, measure["resource"]), opener)
    return ScpiMeter(instrument, measure["kind"], measure["channel"], measure["scale"], options["low_v"])


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    from harness.drivers.cp import level_checks
    from harness.startup import opened

    kind = dialect_of(options)
    name = f"cp generator ({options['resource']})"
    checks = level_checks(name, options["high_v"], options["low_v"], options["amplifier_gain"], kind.max_output_v,
                          f"a {kind.name} generator", ctx.rig.limits)
    if any(not c.ok for c in checks):
        return checks
    dialect, failed = opened(name, "cp-generator", lambda: open_generator(options, ctx.session),
                             "check cp.resource (is it the generator?), cp.dialect and cp.idn_pattern")
    if dialect is None:
        return checks + failed
    checks.append(Check.passed(name, f"*IDN? {dialect.instrument.idn!r}, output off, high-Z, 1 kHz"))
    if options.get("measure"):
        mname = f"cp measurement ({options['measure']['resource']})"
        meter, failed = opened(mname, "cp-measurement", lambda: open_meter(options, ctx.session),
                               "check cp.measure.resource and cp.measure.idn_pattern")
        checks += failed if meter is None else [Check.passed(mname, f"{options['measure']['kind']}: *IDN? "
                                                                    f"{meter.instrument.idn!r}")]
    return checks


@register("cp", "scpi", options=OPTIONS, capabilities=capabilities, startup=startup)
def build(options: dict[str, Any], bench: Any) -> PolledCpLink:
    """Function generator over SCPI (pyvisa), optional scope/DMM."""
    dialect = open_generator(options, bench.session)
    meter = open_meter(options, bench.session)
    generator = ScpiCpGenerator(dialect, options, meter, bench.rig.limits.get("max_current_a"))
    return PolledCpLink(bench.runner, options["poll_interval_ms"] / 1000.0, generator=generator)
