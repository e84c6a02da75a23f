"""Our charger's side of one V2G connection: SupportedAppProtocol, then a DIN 70121 or ISO 15118-2 session.

Every incoming request is checked in this order — the SessionID [V2G-DC-391]/[V2G2-460], the sequence table
[V2G-DC-390]/[V2G2-538], then the content rules of its handler (payment option, services, energy transfer mode,
charge parameters, schedule tuple, charging profile, EVSE readiness). A broken rule is the EV's fault: we answer
the FAILED_* code in a minimal, schema-valid response of the request's type [V2G2-736], report a `peer_error`
naming the requirement, and close the connection [V2G2-539]/[V2G-DC-665]. Timers: the communication-setup timer
until the handshake, then `V2G_SECC_Sequence_Timeout` after every response [V2G2-443].

State shared by all connections of one charger (the power stage, the pilot as last seen, a paused session to
resume, pending operator commands) lives in `EvseContext`; the composite role (`stack.roles.evse`) owns it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from stack import sansio as io
from stack.errors import RemoteProtocolError
from stack.sessions import apphand
from stack.sessions.config import EvseConfig
from stack.sessions.dialect import Dialect, EvseLimits, EvseStatus
from stack.sessions.din70121 import DIN
from stack.sessions.events import (
    CloseConnection,
    ConnectionLost,
    MessageReceived,
    SendMessage,
    Undecodable,
)
from stack.sessions.iso15118_2 import ISO2
from stack.sessions.messages import body_of, name_of, session_id_of, v2g
from stack.sessions.physics import PowerStage
from stack.sessions.secc_handlers import CHARGE_LOOP_STATES, PausedSession, SeccHandlers
from stack.sessions.sequence import FAILED, INITIAL, SequenceContext, SequenceViolation
from stack.timers import SpecTimer

DIALECTS: dict[str, Dialect] = {"din": DIN, "iso2": ISO2}
_UNSUPPORTED = ("PaymentDetails", "CertificateInstallation", "CertificateUpdate")  # PnC: not offered, no reply
ZERO_SESSION = "0000000000000000"


@dataclass
class EvseContext:
    config: EvseConfig
    stage: PowerStage
    cp_state: str | None = None  # last pilot state seen; None = this charger has no CP information
    paused: PausedSession | None = None
    notification: str = "None"  # EVSENotification asked for by a command
    authorized: bool = False
    sessions_completed: int = 0
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(cls, config: EvseConfig, seed: int | None = None) -> EvseContext:
        return cls(config, PowerStage(config.power), rng=random.Random(seed))

    def new_session_id(self, avoid: str | None = None) -> str:
        if self.config.session_id:
            return self.config.session_id.lower()
        while True:
            candidate = self.rng.getrandbits(64).to_bytes(8, "big").hex()
            if candidate != ZERO_SESSION and candidate != avoid:
                return candidate

    @property
    def emergency(self) -> bool:
        return self.stage.emergency

    def limits(self, energy: str) -> EvseLimits:
        c = self.config.power
        if energy == "AC":
            return EvseLimits(c.ac_nominal_voltage, c.ac_nominal_voltage, c.ac_max_current, 0.0,
                              c.ac_max_current * c.ac_nominal_voltage * c.ac_phases, 0.0, 0.0,
                              nominal_voltage=c.ac_nominal_voltage)
        return EvseLimits(c.max_voltage, c.min_voltage, c.max_current, c.min_current, c.max_power,
                          c.regulation_tolerance, c.peak_ripple)


class SeccSession(SeccHandlers):
    """One TCP connection on the charger side (see module docstring). A sans-IO message-level endpoint."""

    def __init__(self, context: EvseContext, now: float = 0.0) -> None:
        self.ctx, self.config = context, context.config
        self.schema = apphand.SCHEMA
        self.dialect: Dialect | None = None
        self.state = INITIAL
        self.seq = SequenceContext()
        self.session_id: str | None = None
        self.payment_option: str | None = None
        self.closed = False
        self.ended_normally = False
        self._first: dict[str, float] = {}
        self._pending: tuple[str, dict[str, Any], float] | None = None  # deferred (pair, request, deadline)
        self._ac_last: float | None = None
        self._ac_wh = 0.0
        self._timer: SpecTimer = DIN.table.communication_setup
        self._deadline: float | None = now + self._timer.seconds

    # ------------------------------------------------------------------ endpoint

    def next_deadline(self) -> float | None:
        if self.closed:
            return None
        if self._pending is not None:
            return min(self._pending[2], self._deadline or self._pending[2])
        return self._deadline

    def handle(self, event: Any, now: float) -> list[Any]:
        if self.closed:
            return []
        if isinstance(event, MessageReceived):
            return self._on_message(event.message, now)
        if isinstance(event, io.Tick):
            return self._on_tick(now)
        if isinstance(event, io.CpObserved):
            return self._on_cp(event, now)
        if isinstance(event, Undecodable):
            return self._abort(f"undecodable message: {event.error}", now, requirement=None)
        if isinstance(event, ConnectionLost):
            return self._lost(event, now)
        return []

    # ------------------------------------------------------------------ input

    def _on_message(self, message: dict[str, Any], now: float) -> list[Any]:
        if self._pending is not None:
            return self._abort("request received while the previous one is still being answered", now,
                               requirement="V2G2-538")
        if self.dialect is None:
            return self._on_handshake(message, now)
        name = name_of(message)
        if not name.endswith("Req"):
            return self._abort(f"{name or 'a message without body'} where a request was expected", now,
                               requirement=None)
        pair = name[:-3]
        table = self.dialect.table
        if pair in _UNSUPPORTED or pair not in table.pairs or not hasattr(self, f"_on_{pair}"):
            # Not part of this standard's EIM sequences at all: no response type we could answer with.
            requirement = "V2G-DC-390" if self.dialect is DIN else "V2G2-538"
            return self._abort(f"{name} is not supported in a {table.standard} EIM session", now,
                               requirement=requirement)
        try:  # the sequence first: a request out of place is a sequence error whatever its SessionID
            table.check(self.state, pair)
        except SequenceViolation as violation:
            return self._refuse(pair, message, "FAILED_SequenceError", violation.requirement or "",
                                violation.detail, now)
        if pair != "SessionSetup" and session_id_of(message) != self.session_id:
            requirement = "V2G-DC-391" if self.dialect is DIN else "V2G2-460"
            return self._refuse(pair, message, "FAILED_UnknownSession", requirement,
                                f"SessionID {session_id_of(message)} is not the session's {self.session_id}", now)
        return self._answer(pair, message, now)

    def _on_handshake(self, message: dict[str, Any], now: float) -> list[Any]:
        try:
            response, outcome = apphand.negotiate(message, self.config.protocols)
        except RemoteProtocolError as exc:
            return self._abort(str(exc), now, requirement=exc.requirement)
        out: list[Any] = [SendMessage(response, apphand.SCHEMA),
                          io.Notify("state", "negotiated", {"schema": outcome.schema, "code": outcome.code})]
        if outcome.schema is None:
            return out + self._close("Failed_NoNegotiation", now, normal=False)
        self.dialect = DIALECTS[outcome.schema]
        self.schema = outcome.schema
        self.state = "SupportedAppProtocol"
        self._arm(self._sequence_timeout(), now)
        return out

    def _on_tick(self, now: float) -> list[Any]:
        if self._pending is not None and now >= self._pending[2]:
            pair, message, _ = self._pending
            self._pending = None
            return self._reply(pair, message, self._failed_body(pair, body_of(message), "FAILED_PowerDeliveryNotApplied",
                                                                now), now,
                               finding=("V2G-DC-547" if self.dialect is DIN else "V2G2-917",
                                        f"pilot stayed in {self.ctx.cp_state} for "
                                        f"{self.dialect.table.extra_timers['cp_detection']}"))
        if self._deadline is not None and now >= self._deadline:
            requirement = "V2G-DC-432" if self.dialect is DIN else "V2G2-443"
            return self._abort(f"no request within {self._timer}", now, requirement=requirement)
        return []

    def _on_cp(self, event: io.CpObserved, now: float) -> list[Any]:
        out: list[Any] = []
        if event.state in ("A", "E", "F"):
            self.ctx.stage.switch_off(now)
            if self.session_id is not None and self.state != "SessionStop":
                out.append(io.Notify("power", "off", {"reason": f"pilot in state {event.state}"}))
                return out + self._close(f"pilot went to state {event.state}", now, normal=False)
        if event.state == "B" and self.state in CHARGE_LOOP_STATES and self.ctx.stage.output_on:
            self.ctx.stage.switch_off(now)  # IEC 61851-1: de-energise within 100 ms of C->B
            out.append(io.Notify("power", "off", {"reason": "pilot back to B during charging"}))
        if self._pending is not None and event.state in ("C", "D"):
            pair, message, _ = self._pending
            self._pending = None
            out += self._answer(pair, message, now, cp_checked=True)
        return out

    def _lost(self, event: ConnectionLost, now: float) -> list[Any]:
        self.closed = True
        self.ctx.stage.switch_off(now)
        normal = self.state == "SessionStop"
        return [io.Notify("state", "session_end", {"ok": normal, "reason": event.error or "connection closed",
                                                   "state": self.state})] if not self.ended_normally else []

    # ------------------------------------------------------------------ answering

    def _answer(self, pair: str, message: dict[str, Any], now: float, cp_checked: bool = False) -> list[Any]:
        handler = getattr(self, f"_on_{pair}")
        result = handler(body_of(message), message, now, cp_checked)
        if result is None:  # deferred (waiting for the pilot)
            timer = self.dialect.table.extra_timers["cp_detection"]
            self._pending = (pair, message, now + timer.seconds)
            return [io.Notify("state", "waiting_for_cp", {"request": f"{pair}Req", "timer": str(timer)})]
        body, finding = result if isinstance(result, tuple) else (result, None)
        return self._reply(pair, message, body, now, finding)

    def _reply(self, pair: str, message: dict[str, Any], body: dict[str, Any], now: float,
               finding: tuple[str, str] | None = None) -> list[Any]:
        out: list[Any] = []
        if finding is not None:
            out.append(self._finding(finding[1], finding[0]))
        sid = self.session_id or ZERO_SESSION
        out.append(SendMessage(v2g(sid, f"{pair}Res", body), self.schema))
        self.state = self.dialect.table.outcome(pair, body_of(message), body, self.seq)
        if self.state == FAILED:
            self.ctx.stage.switch_off(now)
            if self.config.close_on_failed:
                return out + self._close(f"sent {body.get('ResponseCode')}", now, normal=False)
        if pair == "SessionStop":
            return out + self._close("SessionStop", now, normal=True)
        self._arm(self._sequence_timeout(), now)
        return out

    def _refuse(self, pair: str, message: dict[str, Any], code: str, requirement: str, why: str,
                now: float) -> list[Any]:
        body = self._failed_body(pair, body_of(message), code, now)
        return self._reply(pair, message, body, now, finding=(requirement, why))

    def _abort(self, why: str, now: float, requirement: str | None) -> list[Any]:
        self.ctx.stage.switch_off(now)
        return [self._finding(why, requirement)] + self._close(why, now, normal=False)

    def _finding(self, why: str, requirement: str | None) -> io.Notify:
        error = RemoteProtocolError(why, requirement)
        return io.Notify("state", "peer_error", {"error": str(error), "requirement": requirement})

    def _close(self, reason: str, now: float, normal: bool) -> list[Any]:
        self.closed, self.ended_normally = True, normal
        self._deadline = None
        self.ctx.stage.switch_off(now)
        out: list[Any] = [CloseConnection(reason)]
        if normal:
            self.ctx.sessions_completed += 1
        out.append(io.Notify("state", "session_end", {"ok": normal, "reason": reason, "state": self.state,
                                                      "session_id": self.session_id}))
        return out

    def _arm(self, timer: SpecTimer, now: float) -> None:
        self._timer, self._deadline = timer, now + timer.seconds

    def _sequence_timeout(self) -> SpecTimer:
        timer = self.dialect.table.sequence_timeout
        if self.config.sequence_timeout is None:
            return timer
        return SpecTimer(f"{timer.name} (set to {self.config.sequence_timeout:g} s)", self.config.sequence_timeout,
                         "EvseConfig.sequence_timeout (a faulty DUT)")

    # ------------------------------------------------------------------ status and bodies

    @property
    def energy(self) -> str:
        if self.seq.energy:
            return self.seq.energy
        return "AC" if self.config.energy_modes and self.config.energy_modes[0].startswith("AC") else "DC"

    def _status(self, now: float, code: str | None = None, isolation: str | None = None) -> EvseStatus:
        stage = self.ctx.stage
        if code is None:
            code = "EVSE_EmergencyShutdown" if stage.emergency else "EVSE_Ready"
        if isolation is None and stage.isolation_status(now) is not None:
            isolation = stage.isolation_status(now)
        notification = self.ctx.notification
        if notification == "ReNegotiation" and (self.dialect is DIN or self.state not in CHARGE_LOOP_STATES):
            notification = "None"
        if stage.emergency and self.energy == "AC":
            notification = "StopCharging"
        return EvseStatus(code, notification, self.config.notification_max_delay, isolation)

    def _failed_body(self, pair: str, request: dict[str, Any], code: str, now: float) -> dict[str, Any]:
        """A minimal response of the request's type carrying `code` [V2G2-538]/[V2G2-736]."""
        d, status = self.dialect, self._status(now, code="EVSE_NotReady" if pair != "SessionSetup" else None)
        energy, tuple_id = self.energy, self.config.sa_schedule_tuple_id
        if pair == "SessionSetup":
            return d.session_setup_res(code, self.config.evse_id, None)
        if pair == "ServiceDiscovery":
            return d.service_discovery_res(code, list(self.config.energy_modes), list(self.config.payment_options),
                                           self.config.free_service)
        if pair == "ServiceDetail":
            return {"ResponseCode": code, "ServiceID": int(request.get("ServiceID", 1) or 1)}
        if pair == d.authorization_pair:
            return d.authorization_res(code, "Finished")
        if pair == "ChargeParameterDiscovery":
            return d.charge_parameter_discovery_res(code, "Finished", status, self.ctx.limits(energy), energy,
                                                    0, self.config.schedule_duration, tuple_id, schedule=False)
        if pair == "CableCheck":
            return d.cable_check_res(code, status, "Finished")
        if pair in ("PreCharge", "WeldingDetection"):
            return d.pre_charge_res(code, status, 0.0)
        if pair == "PowerDelivery":
            return d.power_delivery_res(code, status, energy)
        if pair == "CurrentDemand":
            return d.current_demand_res(code, status, 0.0, 0.0, {}, self.ctx.limits("DC"), self.config.evse_id,
                                        tuple_id, False)
        if pair == "ChargingStatus":
            return ISO2.charging_status_res(code, status, self.config.evse_id, tuple_id, 0.0, 0, False)
        if pair == "MeteringReceipt":
            return ISO2.metering_receipt_res(code, status, energy)
        return {"ResponseCode": code}  # payment selection, SessionStop
