"""`[power] driver = "scpi-supply"`: a programmable DC supply over pyvisa as our EVSE's power stage.

During PreCharge and CurrentDemand our EVSE sets the supply to its (scaled) target voltage and current limit and
reports the voltage and current the supply *measures* — a car or a test that checks the EVSE's present values
sees real numbers. Dialects (`dialect`):

| dialect    | supplies                                   | set / output / measure                              |
|------------|--------------------------------------------|-----------------------------------------------------|
| `scpi`     | Keysight E36100/E3600/N6700, R&S NGx, ...  | VOLT v; CURR i; OUTP 1/0; MEAS:VOLT?; MEAS:CURR?; VOLT:PROT |
| `rigol-dp` | Rigol DP800                                | :SOURn:VOLT; :SOURn:CURR; :OUTP CHn,ON; :MEAS:VOLT? CHn; :SOURn:VOLT:PROT |

Every setting is read back and the error queue checked. On open the output is switched off and the over-voltage
protection set to `max_output_v` (the most the bench wiring may see), read back, so a wrong set point cannot
exceed it even if everything else fails. `watchdog_s` arms the output watchdog of supplies that have one (Keysight
N6700/N6900: `OUTP:PROT:WDOG`, no SCPI traffic for that long → output off) and a heartbeat thread feeds it.
"""

from __future__ import annotations

from typing import Any

from harness.drivers import Check, InstrumentError, RigMismatch, register
from harness.drivers.heartbeat import Heartbeat
from harness.drivers.power import SCALE_OPTIONS, PowerReading, PowerStage, scale_checks
from harness.drivers.scpi import ScpiInstrument, number
from harness.options import Opt


class SupplyDialect:
    name = ""
    expected = ""
    idn_pattern = "."
    has_watchdog_command = False

    def __init__(self, instrument: ScpiInstrument, channel: int) -> None:
        self.instrument, self.channel = instrument, channel
        self.heartbeat: Heartbeat | None = None

    def close(self) -> None:
        """End of the session: stop feeding the watchdog, release the instrument."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.instrument.close()

    @property
    def label(self) -> str:
        return self.instrument.label

    def send(self, *commands: str) -> None:
        for command in commands:
            self.instrument.write(command)
        self.instrument.check_errors(after="; ".join(commands))

    def expect_number(self, query: str, wanted: float, what: str) -> None:
        value = self.instrument.query_float(query)
        if abs(value - wanted) > max(0.01, abs(wanted) * 1e-3):
            raise InstrumentError(f"{self.label}: {what} reads back {value:g} after setting {wanted:g}")

    def setup(self, ovp: float | None) -> None:
        raise NotImplementedError

    def set(self, volts: float, amps: float) -> None:
        raise NotImplementedError

    def output(self, on: bool) -> None:
        raise NotImplementedError

    def output_state(self) -> bool:
        raise NotImplementedError

    def measure(self) -> tuple[float, float]:
        raise NotImplementedError

    def arm_watchdog(self, seconds: float) -> None:
        raise RigMismatch(f"{self.label}: a {self.name} supply has no output watchdog command",
                          "set power.watchdog_s = 0, or use a supply with one (Keysight N6700: dialect scpi)")


class GenericScpiSupply(SupplyDialect):
    name = "scpi"
    expected = "a SCPI DC supply"

    def setup(self, ovp: float | None) -> None:
        self.instrument.write("*CLS")
        self.instrument.drain_errors()
        self.send("OUTP 0")
        if ovp is not None:
            self.send(f"VOLT:PROT {number(ovp)}")
            self.expect_number("VOLT:PROT?", ovp, "over-voltage protection")
        if self.output_state():
            raise InstrumentError(f"{self.label}: output still on after OUTP 0")

    def set(self, volts: float, amps: float) -> None:
        self.send(f"VOLT {number(volts)}", f"CURR {number(amps)}")
        self.expect_number("VOLT?", volts, "voltage set point")
        self.expect_number("CURR?", amps, "current limit")

    def output(self, on: bool) -> None:
        self.send(f"OUTP {1 if on else 0}")
        if self.output_state() != on:
            raise InstrumentError(f"{self.label}: 'OUTP?' says the output is {'off' if on else 'on'} after "
                                  f"switching it {'on' if on else 'off'}")

    def output_state(self) -> bool:
        reply = self.instrument.query("OUTP?").upper()
        if reply not in ("0", "1", "ON", "OFF"):
            raise InstrumentError(f"{self.label}: 'OUTP?' answered {reply!r}, expected 0 or 1")
        return reply in ("1", "ON")

    def measure(self) -> tuple[float, float]:
        return self.instrument.query_float("MEAS:VOLT?"), self.instrument.query_float("MEAS:CURR?")

    def arm_watchdog(self, seconds: float) -> None:
        try:
            self.send(f"OUTP:PROT:WDOG:DEL {number(seconds)}", "OUTP:PROT:WDOG ON")
        except InstrumentError as exc:
            raise RigMismatch(f"{self.label}: refused the output watchdog ({exc})",
                              "set power.watchdog_s = 0, or use a supply with one (Keysight N6700/N6900)") from None


class RigolDp(GenericScpiSupply):
    name = "rigol-dp"
    expected = "a Rigol DP800 supply"
    idn_pattern = r"(?i)^RIGOL TECHNOLOGIES,DP8\d\d"

    def setup(self, ovp: float | None) -> None:
        n = self.channel
        self.instrument.write("*CLS")
        self.instrument.drain_errors()
        self.send(f":OUTP CH{n},OFF")
        if ovp is not None:
            self.send(f":SOUR{n}:VOLT:PROT {number(ovp)}", f":SOUR{n}:VOLT:PROT:STAT ON")
            self.expect_number(f":SOUR{n}:VOLT:PROT?", ovp, "over-voltage protection")
        if self.output_state():
            raise InstrumentError(f"{self.label}: output still on after :OUTP CH{n},OFF")

    def set(self, volts: float, amps: float) -> None:
        n = self.channel
        self.send(f":SOUR{n}:VOLT {number(volts)}", f":SOUR{n}:CURR {number(amps)}")
        self.expect_number(f":SOUR{n}:VOLT?", volts, "voltage set point")
        self.expect_number(f":SOUR{n}:CURR?", amps, "current limit")

    def output(self, on: bool) -> None:
        self.send(f":OUTP CH{self.channel},{'ON' if on else 'OFF'}")
        if self.output_state() != on:
            raise InstrumentError(f"{self.label}: ':OUTP? CH{self.channel}' says the output is "
                                  f"{'off' if on else 'on'} after switching it {'on' if on else 'off'}")

    def output_state(self) -> bool:
        reply = self.instrument.query(f":OUTP? CH{self.channel}").upper()
        if reply not in ("ON", "OFF"):
            raise InstrumentError(f"{self.label}: ':OUTP? CH{self.channel}' answered {reply!r}, expected ON or OFF")
        return reply == "ON"

    def measure(self) -> tuple[float, float]:
        n = self.channel
        return self.instrument.query_float(f":MEAS:VOLT? CH{n}"), self.instrument.query_float(f":MEAS:CURR? CH{n}")

    def arm_watchdog(self, seconds: float) -> None:
        SupplyDialect.arm_watchdog(self, seconds)


DIALECTS: dict[str, type[SupplyDialect]] = {d.name: d for d in (GenericScpiSupply, RigolDp)}

OPTIONS = {
    "resource": Opt(str, required=True, doc="VISA resource of the supply"),
    "visa_library": Opt(str, default="@py"),
    "dialect": Opt(str, default="scpi", choices=tuple(DIALECTS)),
    "channel": Opt(int, default=1, min=1),
    "idn_pattern": Opt(str, doc="regular expression *IDN? must match (default: the dialect's)"),
    "timeout_ms": Opt(int, default=2000, min=1),
    "watchdog_s": Opt(float, default=0.0, min=0, doc="arm the supply's output watchdog (0: off)"),
    **SCALE_OPTIONS,
}


def capabilities(options: dict[str, Any]) -> set[str]:
    return {"power-stage", "power-measurement", "power-programmable"}


class ScpiSupplyStage(PowerStage):
    kind = "scpi-supply"
    can_measure = True

    def __init__(self, dialect: SupplyDialect, options: dict[str, Any], limits: dict[str, Any]) -> None:
        super().__init__(f"power {dialect.instrument.resource}", options, limits)
        self.dialect = dialect

    def _set_target(self, supply_v: float, supply_a: float) -> None:
        self.dialect.set(supply_v, supply_a)

    def _output(self, on: bool) -> None:
        self.dialect.output(on)

    def _read(self) -> PowerReading:
        volts, amps = self.dialect.measure()
        return self.scaled(volts, amps, self.dialect.output_state(), measured=True)

    def _safe(self) -> None:
        self.dialect.instrument.clear()
        self.dialect.output(False)


def open_supply(options: dict[str, Any], session: Any) -> SupplyDialect:
    kind = DIALECTS[options["dialect"]]
    pattern = options["idn_pattern"] or kind.idn_pattern

    def opener() -> SupplyDialect:
        instrument = ScpiInstrument(options["resource"], options["visa_library"], options["timeout_ms"],
                                    need="power-stage")
        try:
            instrument.idn = instrument.identify(pattern, f"{kind.expected} (rig option power.idn_pattern = "
                                                          f"{pattern!r})")
            dialect = kind(instrument, options["channel"])
            dialect.setup(options.get("max_output_v"))
            if options["watchdog_s"] > 0:
                dialect.arm_watchdog(options["watchdog_s"])
                dialect.heartbeat = Heartbeat(options["watchdog_s"] / 4.0, lambda: instrument.query("*OPC?"),
                                              options["resource"])
        except BaseException:
            instrument.close()
            raise
        return dialect

    return session.get(("visa", options["visa_library"], options["resource"]), opener)


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    from harness.startup import opened

    name = f"power supply ({options['resource']})"
    checks = scale_checks(name, options, ctx.rig.limits)
    if any(not c.ok for c in checks):
        return checks
    dialect, failed = opened(name, "power-stage", lambda: open_supply(options, ctx.session),
                             "check power.resource, power.dialect and power.idn_pattern")
    if dialect is None:
        return checks + failed
    ovp = options.get("max_output_v")
    what = f"*IDN? {dialect.instrument.idn!r}, output off" + (f", OVP {ovp:g} V" if ovp is not None else "")
    if options["watchdog_s"] > 0:
        what += f", output watchdog {options['watchdog_s']:g} s"
    return checks + [Check.passed(name, what)]


@register("power", "scpi-supply", options=OPTIONS, capabilities=capabilities, startup=startup)
def build(options: dict[str, Any], bench: Any) -> ScpiSupplyStage:
    """Programmable DC supply over pyvisa: measured V/I during PreCharge and CurrentDemand."""
    stage = ScpiSupplyStage(open_supply(options, bench.session), options, bench.rig.limits)
    stage.bind(bench)
    return stage
