"""Our car as one composite sans-IO endpoint: CP load -> [SLAC] -> SDP client -> TCP -> V2GTP/EXI -> EVCC session.

On `Start` it plugs in (CP load state B). With a CP it waits for the 5 % PWM that asks for digital communication
before starting (SLAC, then) SDP; without one it starts at once. SDP retries per `SDP_REQ`; the TCP connection
goes to the announced address and port; the `EvccSession` runs the session through SessionStop. `result` is the
session's `SessionResult` (None while running); `done` says the role has nothing left to do.

Commands: `stop_charging`, `emergency_stop`, `pause` (ISO-2: SessionStop(Pause)), `resume` (after a pause: wake
the EVSE with state C when there is a CP, then SDP and SessionSetup with the old SessionID), `renegotiate` (ISO-2),
`unplug` (CP load A, connection closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from stack import sansio as io
from stack import sdp
from stack.roles.connection import Codec, V2GConnection, default_codec
from stack.sessions.config import PevConfig
from stack.sessions.evcc import EvccSession, SessionResult
from stack.sessions.events import ConnectionLost, ConnectionUp
from stack.sessions.faults import Fault, FaultInjector
from stack.sessions.physics import Battery

_DUTY_BAND = (4.5, 5.5)  # IEC 61851-1: 5 % = digital communication required


class Pev:
    def __init__(self, config: PevConfig | None = None, *, faults: Iterable[Fault] = (),
                 codec: Codec | None = None, slac: Any = None) -> None:
        self.config = config or PevConfig()
        self.battery = Battery(self.config.battery)
        self.faults = list(faults)
        self.codec = codec or default_codec()
        self.slac = slac
        self.phase = "idle"  # idle -> waiting_for_pwm -> slac -> sdp -> connecting -> session -> done | paused
        self.sdp: sdp.SdpClient | None = None
        self._sdp_faults = FaultInjector(None, self.faults)
        self.connection: V2GConnection | None = None
        self.session: Any = None
        self.result: SessionResult | None = None
        self.results: list[SessionResult] = []
        self._conn_ids = 0
        self._resume_id: str | None = None
        self.mac, self.ipv6 = "02:00:00:00:00:01", "fe80::1"
        self._delayed: list[tuple[float, io.SendDatagram]] = []

    @property
    def done(self) -> bool:
        return self.phase in ("done", "paused")

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        times: list[float | None] = [t for t, _ in self._delayed[:1]]
        if self.phase == "sdp" and self.sdp is not None:
            times.append(self.sdp.next_deadline())
        if self.phase == "slac" and self.slac is not None:
            times.append(self.slac.next_deadline())
        if self.connection is not None:
            times.append(self.connection.next_deadline())
        present = [t for t in times if t is not None]
        return min(present) if present else None

    # ------------------------------------------------------------------ input

    def handle(self, event: io.Input, now: float) -> list[io.Output]:
        if isinstance(event, io.Start):
            self.mac, self.ipv6 = event.mac, event.ipv6
            out: list[io.Output] = [io.SetCpLoad("B")] if self.config.control_pilot else []
            if self.config.control_pilot and self.slac is None:
                self.phase = "waiting_for_pwm"
                return out
            return out + self._begin(now)  # SLAC waits for the 5 % PWM itself (PevSlacConfig.wait_for_cp)
        if isinstance(event, io.CpObserved):
            return self._cp(event, now)
        if isinstance(event, io.FrameReceived):
            return self._slac(self.slac.handle(event, now), now) if self.slac is not None else []
        if isinstance(event, io.DatagramReceived):
            return self._sdp(self.sdp.handle(event, now), now) if self.phase == "sdp" and self.sdp else []
        if isinstance(event, io.StreamOpened):
            if self.connection is None or event.conn != self.connection.conn:
                return []
            self.phase = "session"
            return self._session(self.connection.handle(ConnectionUp(), now), now)
        if isinstance(event, io.StreamData):
            if self.connection is None or event.conn != self.connection.conn:
                return []
            return self._session(self.connection.feed(event.data, now), now)
        if isinstance(event, io.StreamClosed):
            return self._stream_closed(event, now)
        if isinstance(event, io.Command):
            return self._command(event, now)
        if isinstance(event, io.Tick):
            return self._tick(now)
        return []

    def _begin(self, now: float) -> list[io.Output]:
        if self.slac is not None:
            self.phase = "slac"
            return self._slac(self.slac.handle(io.Start(self.mac, self.ipv6), now), now)
        return self._start_sdp(now)

    def _cp(self, event: io.CpObserved, now: float) -> list[io.Output]:
        out: list[io.Output] = []
        if self.slac is not None:  # always: it aborts on A/E/F and restarts on a new 5 % PWM
            out += self._slac(self.slac.handle(event, now), now)
            if self.phase in ("done", "sdp") and self.connection is None and not getattr(self.slac, "done", True) \
                    and getattr(self.slac, "state", "idle") not in ("idle", "wait_cp"):
                # SLAC started again — plugged in anew, or the EVSE's E/F retry cycle [V2G3-M06-07]: match anew
                self.phase, self.result, self.sdp = "slac", None, None
                out.append(io.Notify("state", "slac_restart", {"pilot": event.state}))
        pwm = event.duty is not None and _DUTY_BAND[0] <= event.duty <= _DUTY_BAND[1]
        if self.phase == "waiting_for_pwm" and pwm:
            return out + self._begin(now)
        if self.phase == "waking" and pwm:
            self.phase = "idle"
            return out + [io.SetCpLoad("B")] + self._start_sdp(now)  # still matched: no new SLAC
        if self.connection is not None:
            out += self._session(self.connection.handle(event, now), now)
        return out

    def _slac(self, outputs: list[io.Output], now: float) -> list[io.Output]:
        """SLAC machines (stack.homeplug) expose `done`, `matched` and `result.reason`."""
        out = list(outputs)
        if self.phase == "slac" and getattr(self.slac, "done", False):
            if getattr(self.slac, "matched", False):
                out += self._start_sdp(now)
            else:
                reason = getattr(getattr(self.slac, "result", None), "reason", "no match")
                out += self._finish(SessionResult(False, f"SLAC failed: {reason}"), now)
        return out

    def _start_sdp(self, now: float) -> list[io.Output]:
        security = sdp.Security.TLS if self.config.sdp_security == "tls" else sdp.Security.NO_TLS
        self.sdp = sdp.SdpClient(security=security, max_requests=self.config.sdp_max_requests)
        self.phase = "sdp"
        return self._sdp(self.sdp.handle(io.Start(self.mac, self.ipv6), now), now)

    def _sdp(self, outputs: list[io.Output], now: float) -> list[io.Output]:
        out: list[io.Output] = []
        for item in outputs:
            if isinstance(item, io.SendDatagram) and self.faults:
                request = sdp.decode(item.data)
                copies, delay = self._sdp_faults.filter_datagram(
                    "SDP.REQ", {"security": request.security, "transport": request.transport}, now)
                for fields in copies:
                    send = io.SendDatagram(sdp.SdpRequest(int(fields["security"]), int(fields["transport"])).to_bytes(),
                                           item.dst, item.src_port)
                    if delay > 0:
                        self._delayed.append((now + delay, send))
                    else:
                        out.append(send)
                continue
            out.append(item)
            if isinstance(item, io.Notify) and item.name == "found" and self.sdp and self.sdp.result:
                out += self._connect(self.sdp.result, now)
            elif isinstance(item, io.Notify) and item.name == "failed":
                out += self._finish(SessionResult(False, f"SDP: {item.data.get('reason')}", "V2G2-161"), now)
        return out

    def _connect(self, found: sdp.SdpResponse, now: float) -> list[io.Output]:
        self._conn_ids += 1
        config = replace(self.config, resume_session_id=self._resume_id) if self._resume_id else self.config
        session: Any = EvccSession(config, self.battery, self.mac)
        if self.faults:
            session = FaultInjector(session, self.faults)
        self.session = session
        self.connection = V2GConnection(self._conn_ids, session, self.codec)
        self.phase = "connecting"
        return [io.OpenStream(self._conn_ids, (found.ip, found.port))]

    def _session(self, outputs: list[io.Output], now: float) -> list[io.Output]:
        if self.session is not None and self.session.done and self.result is None and self.phase != "done":
            result = self.session.result
            if result.ok and result.paused_session_id:
                self._resume_id = result.paused_session_id
                self.result, self.phase = result, "paused"
                self.results.append(result)
            else:
                outputs = outputs + self._finish(result, now, notify=False)
        return outputs

    def _stream_closed(self, event: io.StreamClosed, now: float) -> list[io.Output]:
        if self.connection is None or event.conn != self.connection.conn:
            return []
        connection, self.connection = self.connection, None
        if self.phase == "connecting":
            return self._finish(SessionResult(False, f"TCP connection to the SECC failed: {event.error}"), now)
        return self._session(connection.handle(ConnectionLost(event.error), now), now)

    def _finish(self, result: SessionResult, now: float, notify: bool = True) -> list[io.Output]:
        self.result, self.phase = result, "done"
        self.results.append(result)
        out: list[io.Output] = []
        if notify:
            out.append(io.Notify("state", "session_end", {"ok": result.ok, "reason": result.reason,
                                                          **({"requirement": result.requirement}
                                                             if result.requirement else {})}))
        # A session closes its own connection when it ends (a fault may keep it silent and open on purpose).
        return out

    def _command(self, command: io.Command, now: float) -> list[io.Output]:
        if command.name == "resume":
            if self.phase != "paused":
                return [io.Notify("state", "command_ignored", {"command": "resume", "why": f"phase {self.phase}"})]
            self.result = None
            if self.config.control_pilot:
                self.phase = "waking"
                return [io.SetCpLoad("C"), io.Notify("state", "command", {"command": "resume"})]
            return self._start_sdp(now)
        if command.name.startswith("slac_") and self.slac is not None:
            return self._slac(self.slac.handle(command, now), now)
        if command.name == "unplug" and self.connection is None:
            self.phase = "done"
            return [io.SetCpLoad("A")] if self.config.control_pilot else []
        if self.connection is None:
            return [io.Notify("state", "command_ignored", {"command": command.name, "why": f"phase {self.phase}"})]
        return self._session(self.connection.handle(command, now), now)

    def _tick(self, now: float) -> list[io.Output]:
        out: list[io.Output] = []
        while self._delayed and self._delayed[0][0] <= now:
            out.append(self._delayed.pop(0)[1])
        if self.phase == "sdp" and self.sdp is not None:
            deadline = self.sdp.next_deadline()
            if deadline is not None and deadline <= now:
                out += self._sdp(self.sdp.handle(io.Tick(), now), now)
        if self.phase == "slac" and self.slac is not None:
            deadline = self.slac.next_deadline()
            if deadline is not None and deadline <= now:
                out += self._slac(self.slac.handle(io.Tick(), now), now)
        if self.connection is not None:
            deadline = self.connection.next_deadline()
            if deadline is not None and deadline <= now:
                out += self._session(self.connection.handle(io.Tick(), now), now)
        return out
