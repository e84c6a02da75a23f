"""`[cp] driver = "relay"`: the vehicle's CP circuit switched by a SCPI relay instrument, measured by a scope/DMM.

For charger benches without the serial CP board: the diode and R2 (2.74 kΩ) sit behind a "present" relay, R3 for
C (1.3 kΩ) and for D (270 Ω) behind one relay each, and two fault relays bypass the diode or short CP to PE. Any
switch unit with SCPI channel commands drives them (Keysight DAQ970A/34980A, a USB relay box with a SCPI
firmware): `close`/`open`/`query` are templates with `{ch}`.

| state / fault | relays closed                |
|---------------|------------------------------|
| A             | none                         |
| B             | present                      |
| C             | present, c                   |
| D             | present, d                   |
| no-diode      | + no_diode                   |
| short-to-pe   | + short                      |

Every switching is read back channel by channel. Safe state: every relay open (state A, no fault). The pilot is
measured through `[cp.measure]` (as for `driver = "scpi"`: scope with levels/duty/frequency, or DMM).
"""

from __future__ import annotations

from typing import Any

from harness.drivers import Check, InstrumentError, register
from harness.drivers.cp import CpLoad, PolledCpLink
from harness.drivers.cp_scpi import MEASURE_OPTIONS, ScpiMeter, open_meter
from harness.drivers.dut_seat import seat_simulated_dut
from harness.drivers.scpi import ScpiInstrument
from harness.options import Opt
from harness.sim import car_cp, charger_cp
from stack import cp

CHANNEL_OPTIONS = {
    "present": Opt(int, required=True, doc="relay connecting diode + R2 (state B)"),
    "c": Opt(int, required=True, doc="relay switching R3 = 1.3 kΩ in (state C)"),
    "d": Opt(int, doc="relay switching R3 = 270 Ω in (state D, ventilation)"),
    "no_diode": Opt(int, doc="relay bypassing the diode (fault)"),
    "short": Opt(int, doc="relay shorting CP to PE (fault)"),
}
OPTIONS = {
    "resource": Opt(str, required=True, doc="VISA resource of the switch unit"),
    "visa_library": Opt(str, default="@py"),
    "timeout_ms": Opt(int, default=2000, min=1),
    "idn_pattern": Opt(str, default=".", doc="regular expression its *IDN? must match"),
    "channels": Opt(dict, required=True, schema=CHANNEL_OPTIONS, doc="which channel switches what"),
    "close": Opt(str, default="ROUT:CLOS (@{ch})"),
    "open": Opt(str, default="ROUT:OPEN (@{ch})"),
    "query": Opt(str, default="ROUT:CLOS? (@{ch})", doc="read-back; answers closed_reply or open_reply"),
    "closed_reply": Opt(str, default="1"),
    "open_reply": Opt(str, default="0"),
    "low_v": Opt(float, default=cp.GENERATOR_LOW_V, doc="the charger's negative level (DMM readings)"),
    "measure": Opt(dict, schema=MEASURE_OPTIONS, doc="the scope or DMM on the pilot"),
    "poll_interval_ms": Opt(int, default=50, min=1),
    "car": Opt(dict, default={}, schema=car_cp.CAR_OPTIONS),
    "charger": Opt(dict, default={}, schema=charger_cp.CHARGER_OPTIONS),
}


def capabilities(options: dict[str, Any]) -> set[str]:
    caps = {"cp-load"}
    channels = options.get("channels") or {}
    if channels.get("no_diode") is not None and channels.get("short") is not None:
        caps.add("cp-load-faults")
    measure = options.get("measure")
    if measure:
        caps.add("cp-measurement")
        if measure["kind"] == "scope":
            caps.add("cp-pwm-measurement")
    return caps


class RelayBank:
    """The switch unit: close/open one channel, verified by read-back."""

    def __init__(self, instrument: ScpiInstrument, options: dict[str, Any]) -> None:
        self.instrument, self.options = instrument, options

    def set(self, channel: int, closed: bool) -> None:
        o = self.options
        self.instrument.write((o["close"] if closed else o["open"]).format(ch=channel))
        reply = self.instrument.query(o["query"].format(ch=channel))
        want = o["closed_reply"] if closed else o["open_reply"]
        if reply != want:
            raise InstrumentError(f"{self.instrument.label}: channel {channel} reads back {reply!r} after "
                                  f"{'closing' if closed else 'opening'} it, expected {want!r}")


class RelayCpLoad(CpLoad):
    def __init__(self, bank: RelayBank, channels: dict[str, int | None], meter: ScpiMeter | None) -> None:
        can_fault = channels.get("no_diode") is not None and channels.get("short") is not None
        super().__init__(f"cp-load {bank.instrument.resource}", can_measure=meter is not None, can_fault=can_fault)
        self.bank, self.channels, self.meter = bank, channels, meter

    def _wanted(self, state: str) -> dict[str, bool]:
        return {"present": state != "A", "c": state == "C", "d": state == "D"}

    def _set_state(self, state: str) -> None:
        if state == "D" and self.channels.get("d") is None:
            raise InstrumentError(f"{self.label}: no relay for state D (cp.channels.d)")
        wanted = self._wanted(state)
        for name in ("c", "d", "present"):  # open what goes first, close `present` last
            if self.channels.get(name) is not None and not wanted[name]:
                self.bank.set(self.channels[name], False)
        for name in ("present", "c", "d"):
            if self.channels.get(name) is not None and wanted[name]:
                self.bank.set(self.channels[name], True)

    def _set_fault(self, fault: str | None) -> None:
        self.bank.set(self.channels["no_diode"], fault == "no-diode")
        self.bank.set(self.channels["short"], fault == "short-to-pe")

    def _measure(self) -> cp.CpReading:
        assert self.meter is not None
        return self.meter.read_load()

    def _safe(self) -> None:
        self.bank.instrument.clear()
        errors = []
        for name in ("short", "no_diode", "d", "c", "present"):  # every relay, even when one fails
            if self.channels.get(name) is not None:
                try:
                    self.bank.set(self.channels[name], False)
                except InstrumentError as exc:
                    errors.append(str(exc))
        if errors:
            raise InstrumentError("; ".join(errors))


def open_bank(options: dict[str, Any], session: Any) -> RelayBank:
    def opener() -> ScpiInstrument:
        instrument = ScpiInstrument(options["resource"], options["visa_library"], options["timeout_ms"],
                                    need="cp-load")
        try:
            instrument.idn = instrument.identify(options["idn_pattern"], "the relay unit the rig file names "
                                                 f"(cp.idn_pattern = {options['idn_pattern']!r})")
        except BaseException:
            instrument.close()
            raise
        return instrument

    return RelayBank(session.get(("visa", options["visa_library"], options["resource"]), opener), options)


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    from harness.startup import opened

    name = f"cp relays ({options['resource']})"
    bank, failed = opened(name, "cp-load", lambda: open_bank(options, ctx.session))
    if bank is None:
        return failed
    try:
        for channel in (c for c in options["channels"].values() if c is not None):
            bank.set(channel, False)
    except InstrumentError as exc:
        return [Check.wrong(name, str(exc), "check cp.channels and the read-back replies in the rig file")]
    checks = [Check.passed(name, f"*IDN? {bank.instrument.idn!r}; every relay open (state A)")]
    if options.get("measure"):
        mname = f"cp measurement ({options['measure']['resource']})"
        meter, failed = opened(mname, "cp-measurement", lambda: open_meter(options, ctx.session))
        checks += failed if meter is None else [Check.passed(mname, f"*IDN? {meter.instrument.idn!r}")]
    return checks


@register("cp", "relay", options=OPTIONS, capabilities=capabilities, startup=startup)
def build(options: dict[str, Any], bench: Any) -> PolledCpLink:
    """The vehicle's CP circuit on a SCPI relay unit, measured by a scope or DMM."""
    bank = open_bank(options, bench.session)
    meter = open_meter(options, bench.session)
    load = RelayCpLoad(bank, options["channels"], meter)
    link = PolledCpLink(bench.runner, options["poll_interval_ms"] / 1000.0, load=load)
    seat_simulated_dut(link, bench, options["car"], options["charger"])
    return link
