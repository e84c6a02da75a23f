"""`[power] driver = "bulb"`: a fixed DC source and a resistive load (light bulbs) switched by a relay.

The seed project's bench trick: during PreCharge and CurrentDemand our EVSE closes the relay, the lamps light,
and — when the rig has a measuring channel — it reports the voltage (and current) really measured. The set point
cannot be regulated: it is recorded, and the reading shows what the source does.

    [power]
    driver = "bulb"
    source_v = 24.0            # the fixed source, bench volts
    load_ohm = 12.0            # the lamps, hot (nominal current = source_v / load_ohm)
    voltage_scale = 0.06       # 24 V stands for 400 V
    max_output_v = 30.0
    [power.relay]
    kind = "board"             # the serial CP board's RELAY (port: the [cp] board's) | "scpi"
    [power.measure]            # optional
    resource = "USB0::0x2A8D::0x1301::MY00000001::INSTR"
    voltage_query = "MEAS:VOLT:DC?"

A `scpi` relay is any instrument with a switch (a DAQ/switch unit, a supply's output used as a relay driver):
`resource`, `on`/`off` commands and a `query` whose reply is `on_reply`/`off_reply`.
"""

from __future__ import annotations

from typing import Any

from harness.drivers import Check, InstrumentError, RigMismatch, register
from harness.drivers.power import SCALE_OPTIONS, PowerReading, PowerStage, scale_checks
from harness.drivers.scpi import ScpiInstrument
from harness.options import Opt, validate

RELAY_OPTIONS = {
    "kind": Opt(str, default="board", choices=("board", "scpi"), doc="what switches the load"),
    "port": Opt(str, doc="board: its serial port (default: the [cp] board's)"),
    "resource": Opt(str, doc="scpi: VISA resource"),
    "visa_library": Opt(str, default="@py"),
    "on": Opt(str, default="ROUT:CLOS (@101)", doc="scpi: command closing the relay"),
    "off": Opt(str, default="ROUT:OPEN (@101)", doc="scpi: command opening it"),
    "query": Opt(str, default="ROUT:CLOS? (@101)", doc="scpi: read-back query"),
    "on_reply": Opt(str, default="1"), "off_reply": Opt(str, default="0"),
    "timeout_ms": Opt(int, default=2000, min=1),
}
MEASURE_OPTIONS = {
    "resource": Opt(str, required=True, doc="VISA resource of the meter across the load"),
    "visa_library": Opt(str, default="@py"),
    "voltage_query": Opt(str, default="MEAS:VOLT:DC?"),
    "current_resource": Opt(str, doc="a second meter in series (default: current = voltage / load_ohm)"),
    "current_query": Opt(str, default="MEAS:CURR:DC?"),
    "timeout_ms": Opt(int, default=2000, min=1),
}
OPTIONS = {
    "source_v": Opt(float, required=True, min=0, doc="the fixed DC source (bench volts)"),
    "load_ohm": Opt(float, required=True, min=0.001, doc="the lamp load, hot"),
    "relay": Opt(dict, default={}, schema=RELAY_OPTIONS, doc="what switches the load"),
    "measure": Opt(dict, schema=MEASURE_OPTIONS, doc="optional meter across the load"),
    **SCALE_OPTIONS,
}


def capabilities(options: dict[str, Any]) -> set[str]:
    return {"power-stage", "power-bulb"} | ({"power-measurement"} if options.get("measure") else set())


class Relay:
    def __init__(self, label: str, switch: Any, state: Any) -> None:
        self.label, self._switch, self._state = label, switch, state

    def set(self, on: bool) -> None:
        self._switch(on)
        if self._state() != on:
            raise InstrumentError(f"{self.label}: still {'open' if on else 'closed'} after switching it "
                                  f"{'on' if on else 'off'}")


def open_relay(options: dict[str, Any], rig: Any, session: Any) -> Relay:
    relay = options["relay"]
    if relay["kind"] == "board":
        from harness.drivers import cp_serial

        cp = rig.section("cp")
        port = relay["port"] or (cp.options["port"] if cp is not None and cp.driver == "serial" else None)
        if port is None:
            raise RigMismatch("power.relay: kind = \"board\" needs the serial CP board's port",
                              "set power.relay.port, or use [cp] driver = \"serial\"")
        board_options = cp.options if cp is not None and cp.driver == "serial" and cp.options["port"] == port else \
            validate({"port": port}, cp_serial.OPTIONS, "power.relay", [])
        board = cp_serial.open_board(board_options, session)
        if "RELAY" not in board.features:
            raise RigMismatch(f"{board.label}: has no RELAY (CAP? {' '.join(sorted(board.features))!r})",
                              "fit the relay / update the board, or use power.relay.kind = \"scpi\"")
        return Relay(f"relay of {board.label}", lambda on: board.ok(f"RELAY {'ON' if on else 'OFF'}"),
                     lambda: board.command("RELAY?") == "ON")
    if not relay["resource"]:
        raise RigMismatch("power.relay: kind = \"scpi\" needs a resource", "set power.relay.resource")

    def opener() -> ScpiInstrument:
        instrument = ScpiInstrument(relay["resource"], relay["visa_library"], relay["timeout_ms"], need="power-stage")
        instrument.idn = instrument.query("*IDN?")
        return instrument

    instrument = session.get(("visa", relay["visa_library"], relay["resource"]), opener)

    def state() -> bool:
        reply = instrument.query(relay["query"])
        if reply not in (relay["on_reply"], relay["off_reply"]):
            raise InstrumentError(f"{instrument.label}: {relay['query']!r} answered {reply!r}, expected "
                                  f"{relay['on_reply']!r} or {relay['off_reply']!r}")
        return reply == relay["on_reply"]

    return Relay(f"relay {relay['resource']}", lambda on: instrument.write(relay["on" if on else "off"]), state)


def open_meter(measure: dict[str, Any], resource: str, session: Any) -> ScpiInstrument:
    def opener() -> ScpiInstrument:
        instrument = ScpiInstrument(resource, measure["visa_library"], measure["timeout_ms"], need="power-measurement")
        instrument.idn = instrument.query("*IDN?")
        return instrument

    return session.get(("visa", measure["visa_library"], resource), opener)


class BulbStage(PowerStage):
    kind = "bulb"

    def __init__(self, options: dict[str, Any], limits: dict[str, Any], relay: Relay,
                 volt_meter: ScpiInstrument | None, amp_meter: ScpiInstrument | None) -> None:
        super().__init__("power bulb", options, limits)
        self.source_v, self.load_ohm = options["source_v"], options["load_ohm"]
        self.relay, self.volt_meter, self.amp_meter = relay, volt_meter, amp_meter
        self.measure = options.get("measure") or {}
        self.can_measure = volt_meter is not None

    def _set_target(self, supply_v: float, supply_a: float) -> None:
        """A fixed source cannot follow a set point: recorded (by `set_target`), nothing to send."""

    def _output(self, on: bool) -> None:
        self.relay.set(on)

    def _read(self) -> PowerReading:
        if self.volt_meter is None:
            volts = self.source_v if self.on else 0.0
            return self.scaled(volts, volts / self.load_ohm, self.on, measured=False)
        volts = self.volt_meter.query_float(self.measure["voltage_query"])
        amps = self.amp_meter.query_float(self.measure["current_query"]) if self.amp_meter else volts / self.load_ohm
        return self.scaled(volts, amps, self.on, measured=True)

    def _safe(self) -> None:
        self.relay.set(False)


def _build_parts(options: dict[str, Any], rig: Any, session: Any):
    relay = open_relay(options, rig, session)
    measure = options.get("measure")
    volt_meter = open_meter(measure, measure["resource"], session) if measure else None
    amp_meter = open_meter(measure, measure["current_resource"], session) if measure and \
        measure["current_resource"] else None
    return relay, volt_meter, amp_meter


def startup(options: dict[str, Any], ctx: Any) -> list[Check]:
    from harness.startup import opened

    name = "power bulb"
    checks = scale_checks(name, options, ctx.rig.limits, fixed_v=options["source_v"])
    if any(not c.ok for c in checks):
        return checks
    parts, failed = opened(name, "power-stage", lambda: _build_parts(options, ctx.rig, ctx.session))
    if parts is None:
        return checks + failed
    relay, volt_meter, _ = parts
    try:
        relay.set(False)
    except InstrumentError as exc:
        return checks + [Check.wrong(f"{name}: relay", str(exc))]
    what = f"{relay.label} open" + (f"; meter *IDN? {volt_meter.idn!r}" if volt_meter else "; no meter: nominal "
                                                                                         "values, marked unmeasured")
    return checks + [Check.passed(name, what)]


@register("power", "bulb", options=OPTIONS, capabilities=capabilities, startup=startup)
def build(options: dict[str, Any], bench: Any) -> BulbStage:
    """Fixed DC source + lamp load switched by a relay; V/I from a meter when there is one."""
    relay, volt_meter, amp_meter = _build_parts(options, bench.rig, bench.session)
    stage = BulbStage(options, bench.rig.limits, relay, volt_meter, amp_meter)
    stage.bind(bench)
    return stage
