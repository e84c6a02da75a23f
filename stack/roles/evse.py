"""Our charger as one composite sans-IO endpoint: [SLAC] -> SDP server -> TCP listener -> V2GTP/EXI -> SECC session.

What it does on the wire: drives the pilot to 5 % PWM (digital communication) when it has a CP, answers SECC
Discovery Requests with its link-local address and the TCP port it listens on (a free dynamic port
49152-65535 by default, `EvseConfig.tcp_port` to pin one, e.g. 15118), and serves each accepted connection with a
`SeccSession` (fault-wrapped when faults are given). Sessions can follow one another; `sessions_completed` counts
the ones that ended with SessionStop. A paused ISO-2 session switches the oscillator off (X1) [V2G3-M07-20] until
the EV wakes it by showing state C.

With SLAC it supervises the data link: when no V2G session (SessionSetupRes sent) is set up within
V2G_SECC_CommunicationSetup_Performance_Time after the match, it reports a data-link error [V2G2-723] and SLAC
leaves the network through X1 → E/F → 5 % [V2G3-M07-05] (`Notify("state", "d_link_error")`).

Commands (`io.Command(name)`): `stop_charging` (EVSENotification=StopCharging), `emergency_stop` (power off now,
EVSE_EmergencyShutdown), `renegotiate` (EVSENotification=ReNegotiation, ISO-2), `authorize` (finish EIM when
`authorization_time` is None), `isolation_fault` (the next insulation test fails).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stack import sansio as io
from stack import sdp
from stack.roles.connection import Codec, V2GConnection, default_codec
from stack.sessions.config import EvseConfig
from stack.sessions.faults import Fault, FaultInjector
from stack.sessions.secc import EvseContext, SeccSession
from stack.timers import SpecTimer

DIGITAL_COMMUNICATION_DUTY = 5.0
V2G_SECC_CommunicationSetup_Performance_Time = SpecTimer(
    "V2G_SECC_CommunicationSetup_Performance_Time", 18.0,
    "ISO 15118-2 [V2G2-723]: data link up → V2G session set up (EVerest EvseV2G v2g.hpp: 18 s)")


class Evse:
    def __init__(self, config: EvseConfig | None = None, *, faults: Iterable[Fault] = (),
                 codec: Codec | None = None, slac: Any = None, seed: int | None = None) -> None:
        self.config = config or EvseConfig()
        self.ctx = EvseContext.build(self.config, seed)
        self.faults = list(faults)
        self.codec = codec or default_codec()
        self.slac = slac
        self.sdp = sdp.SdpServer(din_only=tuple(self.config.protocols) == ("din",))
        self._sdp_faults = FaultInjector(None, self.faults)
        self._delayed: list[tuple[float, io.SendDatagram]] = []
        self.connections: dict[int, V2GConnection] = {}
        self.port: int | None = None
        self.oscillator: float | None = None
        self._pause_handled: object = None
        self.mac, self.ipv6 = "", ""
        self.setup_timer = V2G_SECC_CommunicationSetup_Performance_Time
        self._setup_deadline: float | None = None  # data link up, no V2G session yet
        self._link_watched = False  # the current match is (or was) supervised

    # ------------------------------------------------------------------ queries

    @property
    def sessions_completed(self) -> int:
        return self.ctx.sessions_completed

    @property
    def stage(self) -> Any:
        return self.ctx.stage

    def next_deadline(self) -> float | None:
        times = [c.next_deadline() for c in self.connections.values()]
        if self.slac is not None:
            times.append(self.slac.next_deadline())
        times += [t for t, _ in self._delayed[:1]]
        times.append(self._setup_deadline)
        present = [t for t in times if t is not None]
        return min(present) if present else None

    # ------------------------------------------------------------------ input

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        if isinstance(event, io.Start):
            return self._start(event, now)
        if isinstance(event, io.Listening):
            self.port = event.port
            return [io.Notify("state", "listening", {"port": event.port})] + self._sdp_out(
                self.sdp.set_port(event.port), now)
        if isinstance(event, io.DatagramReceived):
            return self._sdp_out(self.sdp.handle(event, now), now)
        if isinstance(event, io.StreamOpened):
            return self._opened(event, now)
        if isinstance(event, io.StreamData):
            connection = self.connections.get(event.conn)
            return self._after(connection.feed(event.data, now) if connection else [], now)
        if isinstance(event, io.StreamClosed):
            return self._closed(event, now)
        if isinstance(event, io.CpObserved):
            return self._cp(event, now)
        if isinstance(event, io.Command):
            return self._command(event, now)
        if isinstance(event, io.FrameReceived):
            return self._track(self.slac.handle(event, now), now) if self.slac is not None else []
        if isinstance(event, io.Tick):
            return self._tick(now)
        return []

    def _start(self, event: io.Start, now: float) -> list[io.Output]:
        self.mac, self.ipv6 = event.mac, event.ipv6
        out: list[io.Output] = []
        if self.slac is not None:  # SLAC drives the oscillator itself (5 % on B/C/D, off on A) from steady +12 V
            if self.config.control_pilot:
                out.append(self._oscillator(None))
            out += self._track(self.slac.handle(event, now), now)
        elif self.config.control_pilot:
            out.append(self._oscillator(DIGITAL_COMMUNICATION_DUTY))
        out += self.sdp.handle(event, now)  # BindUdp 15118 + ff02::1
        out.append(io.Listen(self.config.tcp_port))
        return out

    def _track(self, outputs: list[io.Output], now: float) -> list[io.Output]:
        """Follow what SLAC does with the oscillator (pause/wake-up need the pilot's state) and with the data link
        (a new match starts the V2G_SECC_CommunicationSetup_Performance_Time supervision)."""
        for item in outputs:
            if isinstance(item, io.SetCpOscillator):
                self.oscillator = item.duty
        matched = bool(getattr(self.slac, "matched", False))
        if matched and not self._link_watched:
            self._link_watched, self._setup_deadline = True, now + self.setup_timer.seconds
        elif not matched:
            self._link_watched, self._setup_deadline = False, None
        return outputs

    def _session_set_up(self) -> bool:
        return any(getattr(c.session, "session_id", None) for c in self.connections.values())

    def _link_error(self, now: float) -> list[io.Output]:
        """No V2G session in time on a matched link: D-LINK_ERROR [V2G2-723], SLAC leaves the network."""
        self._setup_deadline = None
        out: list[io.Output] = [io.Notify("state", "d_link_error", {"timer": str(self.setup_timer),
                                                                    "requirement": "V2G2-723"})]
        return out + self._track(self.slac.handle(io.Command("slac_link_error", {}), now), now)

    def _oscillator(self, duty: float | None) -> io.SetCpOscillator:
        self.oscillator = duty
        return io.SetCpOscillator(duty)

    def _sdp_out(self, outputs: list[io.Output], now: float) -> list[io.Output]:
        out: list[io.Output] = []
        for item in outputs:
            if not isinstance(item, io.SendDatagram) or not self.faults:
                out.append(item)
                continue
            response = sdp.decode(item.data)
            copies, delay = self._sdp_faults.filter_datagram("SDP.RES", response.describe() | {
                "security": response.security, "transport": response.transport}, now)
            for fields in copies:
                data = sdp.SdpResponse(fields["ip"], int(fields["port"]), int(fields["security"]),
                                       int(fields["transport"])).to_bytes()
                send = io.SendDatagram(data, item.dst, item.src_port)
                if delay > 0:
                    self._delayed.append((now + delay, send))
                else:
                    out.append(send)
        return out

    def _opened(self, event: io.StreamOpened, now: float) -> list[io.Output]:
        session: Any = SeccSession(self.ctx, now)
        if self.faults:
            session = FaultInjector(session, self.faults)
        self.connections[event.conn] = V2GConnection(event.conn, session, self.codec)
        return [io.Notify("state", "connected", {"conn": event.conn, "peer": event.peer[0]})]

    def _closed(self, event: io.StreamClosed, now: float) -> list[io.Output]:
        connection = self.connections.pop(event.conn, None)
        if connection is None:
            return []
        from stack.sessions.events import ConnectionLost

        return self._after(connection.handle(ConnectionLost(event.error), now), now)

    def _after(self, outputs: list[io.Output], now: float) -> list[io.Output]:
        """Pause handling after any session step: X1 while a session is paused [V2G3-M07-20]."""
        if self._setup_deadline is not None and self._session_set_up():
            self._setup_deadline = None  # the V2G session is up: the data link did its job
        paused = self.ctx.paused
        if paused is not None and paused is not self._pause_handled:
            self._pause_handled = paused
            outputs = outputs + [io.Notify("state", "paused", {"session_id": paused.session_id})]
            if self.config.control_pilot and self.oscillator is not None:
                outputs.append(self._oscillator(None))
        return outputs

    def _cp(self, event: io.CpObserved, now: float) -> list[io.Output]:
        previous, self.ctx.cp_state = self.ctx.cp_state, event.state
        out: list[io.Output] = []
        if self.slac is not None:
            out += self._track(self.slac.handle(event, now), now)
        for connection in list(self.connections.values()):
            out += connection.handle(event, now)
        if event.state in ("A", "E", "F") and previous not in (None, "A"):
            self.ctx.stage.switch_off(now)
        if (self.config.control_pilot and self.oscillator is None and self.ctx.paused is not None
                and event.state in ("C", "D")):
            out += [self._oscillator(DIGITAL_COMMUNICATION_DUTY), io.Notify("state", "wake_up", {})]
        return out

    def _command(self, command: io.Command, now: float) -> list[io.Output]:
        name = command.name
        if name in ("stop_charging", "stop"):
            self.ctx.notification = "StopCharging"
        elif name == "emergency_stop":
            self.ctx.stage.emergency_off(now)
            return [io.Notify("power", "emergency_off", {"reason": "command"})]
        elif name == "renegotiate":
            self.ctx.notification = "ReNegotiation"
        elif name == "authorize":
            self.ctx.authorized = True
        elif name == "isolation_fault":
            self.ctx.stage.config.isolation_result = "Fault"
        elif name.startswith("slac_") and self.slac is not None:
            return self._track(self.slac.handle(command, now), now)
        else:
            return [io.Notify("state", "command_ignored", {"command": name, "why": "unknown command"})]
        return [io.Notify("state", "command", {"command": name})]

    def _tick(self, now: float) -> list[io.Output]:
        out: list[io.Output] = []
        while self._delayed and self._delayed[0][0] <= now:
            out.append(self._delayed.pop(0)[1])
        if self._setup_deadline is not None and now >= self._setup_deadline and self.slac is not None:
            out += [] if self._session_set_up() else self._link_error(now)
            self._setup_deadline = None
        if self.slac is not None:
            deadline = self.slac.next_deadline()
            if deadline is not None and deadline <= now:
                out += self._track(self.slac.handle(io.Tick(), now), now)
        for connection in list(self.connections.values()):
            deadline = connection.next_deadline()
            if deadline is not None and deadline <= now:
                out += self._after(connection.handle(io.Tick(), now), now)
        return out
