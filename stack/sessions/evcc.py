"""Our car's side of one V2G connection: SupportedAppProtocol, then a DIN 70121 or ISO 15118-2 EIM session.

The EVCC leads: it sends each request, waits for the matching response within the pair's
`V2G_EVCC_Msg_Timeout`, and decides the next request from the response and its battery (`physics.Battery`). Loops
(Ongoing, PreCharge, the charge loop, WeldingDetection) repeat every `cycle` seconds and are bounded by their loop
timers (`V2G_EVCC_CableCheck_Timeout`, `..._PreCharge_Timeout`, `..._Ongoing_Timeout` / DIN `..._ReadyToCharge_
Timeout`); the handshake and SessionSetup by `V2G_EVCC_CommunicationSetup_Timeout`.

Whatever the SECC does wrong — a response that does not match the request, a wrong SessionID, a FAILED_* code,
silence — ends the session: we close the TCP connection and report `session_end` with `ok: false`, the reason and,
where the SECC broke a rule, a `peer_error` naming the requirement. CP: state C before CableCheck (DC) or with
PowerDelivery(Start) (AC), back to B after PowerDeliveryRes(Stop) [V2G2-847]/[V2G2-848].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack import sansio as io
from stack.errors import LocalProtocolError, RemoteProtocolError
from stack.sessions import apphand
from stack.sessions.config import PevConfig
from stack.sessions.dialect import Dialect
from stack.sessions.din70121 import DIN
from stack.sessions.evcc_requests import EvccRequests
from stack.sessions.events import (
    CloseConnection,
    ConnectionLost,
    ConnectionUp,
    MessageReceived,
    SendMessage,
    Undecodable,
)
from stack.sessions.iso15118_2 import ISO2
from stack.sessions.messages import body_of, name_of, pv_value, session_id_of, v2g
from stack.sessions.physics import Battery
from stack.sessions.sequence import (
    FAILED,
    INITIAL,
    RESPONSE_MATCHES_REQUEST,
    SequenceContext,
    SequenceViolation,
)
from stack.timers import SpecTimer

DIALECTS: dict[str, Dialect] = {"din": DIN, "iso2": ISO2}
ZERO_SESSION = "0000000000000000"
RESPONSE_SESSION_ID = "ccs-hil:response-session-id"  # our own ID: responses carry the session's SessionID
_HANDLES_OWN_STOP = ("PowerDelivery", "CurrentDemand", "ChargingStatus", "MeteringReceipt", "WeldingDetection",
                     "SessionStop")
STOP_CODES = ("EVSE_Shutdown", "EVSE_EmergencyShutdown", "EVSE_Malfunction", "EVSE_UtilityInterruptEvent")


@dataclass(frozen=True)
class SessionResult:
    ok: bool
    reason: str
    requirement: str | None = None
    state: str = ""
    paused_session_id: str | None = None


class EvccSession(EvccRequests):
    def __init__(self, config: PevConfig, battery: Battery, mac: str = "02:00:00:00:00:01") -> None:
        self.config, self.battery = config, battery
        self.evcc_id = (config.evcc_id or Dialect.evcc_id(mac)).lower()
        self.schema = apphand.SCHEMA
        self.dialect: Dialect | None = None
        self.state = INITIAL
        self.seq = SequenceContext(energy=config.energy)
        self.session_id = (config.resume_session_id or ZERO_SESSION).lower()
        self.result: SessionResult | None = None
        self.stop_request: str | None = None  # "complete" | "command" | "evse" | "emergency" | "pause" | ...
        self.renegotiate = False
        self.charge_loops = 0
        self.charge_started: float | None = None
        self.welding_requests = 0
        self.tuple_id = 1
        self.pmax: float | None = None
        self.evse_max_current: float | None = None
        self.precharge_target = 0.0
        self.charge_service = 1
        self._offer: dict[str, Any] | None = None
        self._outstanding: tuple[str, dict[str, Any]] | None = None
        self._timers: dict[str, tuple[SpecTimer, float]] = {}
        self._scheduled: tuple[float, str] | None = None

    # ------------------------------------------------------------------ endpoint

    @property
    def done(self) -> bool:
        return self.result is not None

    def next_deadline(self) -> float | None:
        if self.done:
            return None
        times = [deadline for _, deadline in self._timers.values()]
        if self._scheduled is not None:
            times.append(self._scheduled[0])
        return min(times) if times else None

    def handle(self, event: Any, now: float) -> list[Any]:
        if self.done:
            return []
        if isinstance(event, ConnectionUp):
            return self._start(now)
        if isinstance(event, MessageReceived):
            try:
                return self._on_response(event.message, now)
            except RemoteProtocolError as exc:
                return self._end(False, str(exc), now, requirement=exc.requirement, finding=True)
        if isinstance(event, io.Tick):
            return self._on_tick(now)
        if isinstance(event, io.Command):
            return self._on_command(event, now)
        if isinstance(event, Undecodable):
            return self._end(False, f"undecodable response: {event.error}", now, finding=True)
        if isinstance(event, ConnectionLost):
            self._timers.clear()
            if self.state == "SessionStop":
                return self._end(True, "SessionStop", now, close=False)
            return self._end(False, f"connection lost in {self.state}: {event.error or 'closed by the SECC'}", now,
                             close=False)
        return []

    # ------------------------------------------------------------------ timers

    def _arm(self, key: str, timer: SpecTimer, now: float) -> None:
        self._timers[key] = (timer, now + timer.seconds)

    def _scaled(self, timer: SpecTimer) -> SpecTimer:
        factor = self.config.msg_timeout_scale
        return timer if factor == 1.0 else timer.scaled(factor)

    def _on_tick(self, now: float) -> list[Any]:
        for _key, (timer, deadline) in list(self._timers.items()):
            if now >= deadline:
                waiting = self._outstanding[0] if self._outstanding else self.state
                return self._end(False, f"{timer} expired waiting in {waiting}", now, timer=timer.name)
        if self._scheduled is not None and now >= self._scheduled[0]:
            _, pair = self._scheduled
            self._scheduled = None
            return self._request(pair, now)
        return []

    # ------------------------------------------------------------------ commands

    def _on_command(self, command: io.Command, now: float) -> list[Any]:
        name = command.name
        if name in ("stop_charging", "stop"):
            self.stop_request = self.stop_request or "command"
        elif name == "emergency_stop":
            self.stop_request = "emergency"
            out: list[Any] = [io.Notify("state", "emergency_stop", {})]
            if self.config.control_pilot:
                out.append(io.SetCpLoad("B"))  # open S2 at once; the EVSE must de-energise
            return out
        elif name == "pause":
            if self.dialect is DIN:
                return [io.Notify("state", "command_ignored", {"command": name, "why": "DIN 70121 has no pause"})]
            self.stop_request = "pause"
        elif name == "renegotiate":
            if self.dialect is DIN:
                return [io.Notify("state", "command_ignored", {"command": name, "why": "DIN has no renegotiation"})]
            self.renegotiate = True
        elif name == "unplug":
            out = [io.SetCpLoad("A")] if self.config.control_pilot else []
            return out + self._end(False, "unplugged", now)
        else:
            return [io.Notify("state", "command_ignored", {"command": name, "why": "unknown command"})]
        return [io.Notify("state", "command", {"command": name})]

    # ------------------------------------------------------------------ flow

    def _start(self, now: float) -> list[Any]:
        self._offer = apphand.offer(self.config.protocols)
        table = DIALECTS[self.config.protocols[0]].table
        self._arm("setup", table.communication_setup, now)
        self._arm("response", self._scaled(table.handshake.timeout), now)
        self._outstanding = ("SupportedAppProtocol", self._offer)
        return [SendMessage(self._offer, apphand.SCHEMA)]

    def _on_response(self, message: dict[str, Any], now: float) -> list[Any]:
        if self._outstanding is None:
            raise RemoteProtocolError(f"unsolicited {name_of(message) or 'message'} while no request is open",
                                      RESPONSE_MATCHES_REQUEST)
        pair, request = self._outstanding
        self._outstanding = None
        self._timers.pop("response", None)
        if pair == "SupportedAppProtocol":
            return self._on_handshake(request, message, now)
        name = name_of(message)
        if name != f"{pair}Res":
            raise RemoteProtocolError(f"{name or 'a message without body'} in answer to {pair}Req",
                                      RESPONSE_MATCHES_REQUEST)
        body = body_of(message)
        code = str(body.get("ResponseCode", ""))
        sid = session_id_of(message) or ""
        if pair == "SessionSetup":
            self._check_session_setup(sid, code)
            self.session_id = sid
            self._timers.pop("setup", None)
        elif sid != self.session_id:
            raise RemoteProtocolError(f"{name} carries SessionID {sid}, the session's is {self.session_id}",
                                      RESPONSE_SESSION_ID)
        before = self.state
        self.state = self.dialect.table.outcome(pair, body_of(request), body, self.seq)
        if self.state == FAILED and self.config.failed_retry:  # a faulty car: ask again as if nothing happened
            self.state = before
            return self._later(pair, now)
        if self.state == FAILED:
            return self._end(False, f"{name} {code}", now, code=code)
        return self._after(pair, body, now)

    def _on_handshake(self, request: dict[str, Any], message: dict[str, Any], now: float) -> list[Any]:
        outcome = apphand.accept(request, message)
        out: list[Any] = [io.Notify("state", "negotiated", {"schema": outcome.schema, "code": outcome.code})]
        if outcome.schema is None:
            return out + self._end(False, "supportedAppProtocolRes Failed_NoNegotiation", now, code=outcome.code)
        self.dialect = DIALECTS[outcome.schema]
        self.schema = outcome.schema
        self.state = "SupportedAppProtocol"
        if self.dialect is DIN:
            self.seq.energy = "DC"
        return out + self._request("SessionSetup", now)

    def _check_session_setup(self, sid: str, code: str) -> None:
        requirement = "V2G-DC-393" if self.dialect is DIN else "V2G2-756"
        if code.startswith("FAILED"):
            return
        if sid.strip("0") == "":
            raise RemoteProtocolError(f"SessionSetupRes assigned SessionID {sid or '(empty)'}", requirement)
        resuming = self.session_id != ZERO_SESSION
        if code == "OK_OldSessionJoined" and not (resuming and sid == self.session_id):
            raise RemoteProtocolError(f"OK_OldSessionJoined with SessionID {sid}, but we asked for "
                                      f"{self.session_id}", requirement)
        if code == "OK_NewSessionEstablished" and resuming and sid == self.session_id:
            raise RemoteProtocolError("OK_NewSessionEstablished but the old SessionID came back", requirement)
        if code not in ("OK_NewSessionEstablished", "OK_OldSessionJoined"):
            raise RemoteProtocolError(f"SessionSetupRes ResponseCode {code}", requirement)

    def _later(self, pair: str, now: float) -> list[Any]:
        self._scheduled = (now + self.config.cycle, pair)
        return []

    def _after(self, pair: str, body: dict[str, Any], now: float) -> list[Any]:
        d = self.dialect
        if (self.stop_request in ("emergency", "command", "pause") and pair not in _HANDLES_OWN_STOP
                and self._can_stop_now()):
            return self._stop(now)
        if pair == "SessionSetup":
            return self._request("ServiceDiscovery", now)
        if pair == "ServiceDiscovery":
            modes = d.offered_modes(body)
            if self.config.energy_mode not in modes:
                self.stop_request = "incompatible"
                return self._end(False, f"the SECC offers {modes}, not {self.config.energy_mode}", now)
            if self.config.payment_option not in d.offered_payment_options(body):
                return self._end(False, f"the SECC does not offer {self.config.payment_option}", now)
            self.charge_service = d.charge_service_id(body)
            if self.config.request_service_detail and d is ISO2:
                return self._request("ServiceDetail", now)
            return self._request(d.payment_pair, now)
        if pair == "ServiceDetail":
            return self._request(d.payment_pair, now)
        if pair == d.payment_pair:
            return self._request(d.authorization_pair, now)
        if pair == d.authorization_pair:
            if body.get("EVSEProcessing") != "Finished":
                return self._later(pair, now)
            return self._request("ChargeParameterDiscovery", now)
        if pair == "ChargeParameterDiscovery":
            return self._after_charge_parameters(body, now)
        if pair == "CableCheck":
            if body.get("EVSEProcessing") != "Finished":
                return self._later(pair, now)
            isolation = body.get("DC_EVSEStatus", {}).get("EVSEIsolationStatus")
            if isolation in ("Invalid", "Fault"):
                return self._end(False, f"CableCheck finished with isolation {isolation}", now)
            return self._request("PreCharge", now)
        if pair == "PreCharge":
            present = pv_value(body.get("EVSEPresentVoltage"), 0.0)
            if abs(present - self.precharge_target) <= self.config.precharge_tolerance:
                return self._request("PowerDelivery", now, progress="Start")
            return self._later(pair, now)
        if pair == "PowerDelivery":
            return self._after_power_delivery(now)
        if pair in ("CurrentDemand", "ChargingStatus", "MeteringReceipt"):
            return self._after_charge_loop(pair, body, now)
        if pair == "WeldingDetection":
            present = pv_value(body.get("EVSEPresentVoltage"), 0.0)
            if present < self.config.welding_voltage:
                return self._request("SessionStop", now)
            if self.welding_requests >= self.config.welding_max_requests:
                warning = io.Notify("state", "warning", {"warning": f"EVSEPresentVoltage still {present:g} V after "
                                                                    f"{self.welding_requests} WeldingDetectionReq: "
                                                                    "welded contactor?", "requirement": "V2G2-620"})
                return [warning] + self._request("SessionStop", now)
            return self._later(pair, now)
        if pair == "SessionStop":
            paused = self.stop_request == "pause"
            return self._end(True, "paused" if paused else "SessionStop", now,
                             paused_session_id=self.session_id if paused else None)
        raise LocalProtocolError(f"no decision after {pair}")

    def _after_charge_parameters(self, body: dict[str, Any], now: float) -> list[Any]:
        if body.get("EVSEProcessing") != "Finished":
            return self._later("ChargeParameterDiscovery", now)
        tuple_id, pmax = self.dialect.selected_tuple_id(body)
        if tuple_id is not None:
            self.tuple_id, self.pmax = tuple_id, pmax
        limits = body.get("DC_EVSEChargeParameter") or body.get("AC_EVSEChargeParameter") or {}
        self.evse_max_current = pv_value(limits.get("EVSEMaximumCurrentLimit") or limits.get("EVSEMaxCurrent"), None)
        out: list[Any] = []
        evse_max_voltage = pv_value(limits.get("EVSEMaximumVoltageLimit"), None)
        if evse_max_voltage is not None and evse_max_voltage < self.battery.open_circuit_voltage:
            out.append(io.Notify("state", "warning", {
                "warning": f"EVSEMaximumVoltageLimit {evse_max_voltage:g} V is below the battery's "
                           f"{self.battery.open_circuit_voltage:g} V; a real EV would not charge here"}))
        if self.state.endswith("Renegotiation"):
            return self._request("PowerDelivery", now, progress="Start")
        if self.config.control_pilot:
            out.append(io.SetCpLoad("C"))  # DC: before CableCheck; AC: with PowerDelivery(Start) [V2G2-847]
        if self.seq.energy == "AC":
            return out + self._request("PowerDelivery", now, progress="Start")
        return out + self._request("CableCheck", now)

    def _after_power_delivery(self, now: float) -> list[Any]:
        progress = self.state.split(".")[1] if "." in self.state else "Start"
        if progress == "Start":
            self.charge_started = now
            self.battery.pause()
            return self._request("CurrentDemand" if self.seq.energy == "DC" else "ChargingStatus", now)
        if progress == "Renegotiate":
            self.renegotiate = False
            return self._request("ChargeParameterDiscovery", now)
        self.battery.pause()
        out: list[Any] = [io.SetCpLoad("B")] if self.config.control_pilot else []  # [V2G2-848]
        if (self.seq.energy == "DC" and self.config.welding_detection and self.stop_request != "emergency"):
            return out + self._request("WeldingDetection", now)
        return out + self._request("SessionStop", now)

    def _after_charge_loop(self, pair: str, body: dict[str, Any], now: float) -> list[Any]:
        if pair == "CurrentDemand":
            self.battery.charge(pv_value(body.get("EVSEPresentVoltage"), 0.0),
                                pv_value(body.get("EVSEPresentCurrent"), 0.0), now)
            status = body.get("DC_EVSEStatus", {})
        elif pair == "ChargingStatus":
            c = self.battery.config
            current = min(c.ac_max_current, pv_value(body.get("EVSEMaxCurrent"), c.ac_max_current))
            self.battery.charge(c.ac_voltage * c.ac_phases, current, now)
            status = body.get("AC_EVSEStatus", {})
        else:
            status = {}
        if pair != "MeteringReceipt":
            self.charge_loops += 1
        if body.get("ReceiptRequired") in (True, "true"):
            # EIM never asks for a receipt [V2G2-691]; we do not sign one, and after ReceiptRequired=true the
            # sequence allows only MeteringReceiptReq [V2G2-795]/[V2G2-577]: end the session.
            self.stop_request = "evse"
            return self._end(False, "ReceiptRequired=true in an EIM session", now, requirement="V2G2-691",
                             finding=True)
        if status.get("EVSEStatusCode") in STOP_CODES or status.get("EVSENotification") == "StopCharging":
            emergency = status.get("EVSEStatusCode") == "EVSE_EmergencyShutdown"
            self.stop_request = "emergency" if emergency else (self.stop_request or "evse")
        elif status.get("EVSENotification") == "ReNegotiation" and self.dialect is ISO2:
            self.renegotiate = True  # [V2G2-680]: acted on only in charge-loop responses
        c = self.config
        if self.stop_request is None:
            if self.battery.complete:
                self.stop_request = "complete"
            elif c.charge_loops is not None and self.charge_loops >= c.charge_loops:
                self.stop_request = "loops"
            elif c.charge_time is not None and self.charge_started is not None and now - self.charge_started >= c.charge_time:
                self.stop_request = "time"
        if self.stop_request is not None:
            return self._stop(now)
        if self.renegotiate:
            return self._request("PowerDelivery", now, progress="Renegotiate")
        return self._later("CurrentDemand" if self.seq.energy == "DC" else "ChargingStatus", now)

    def _can_stop_now(self) -> bool:
        allowed = self.dialect.table.allowed_after(self.state) if self.dialect else frozenset()
        return "PowerDelivery" in allowed or "SessionStop" in allowed

    def _stop(self, now: float) -> list[Any]:
        allowed = self.dialect.table.allowed_after(self.state)
        if "PowerDelivery" in allowed and self.state.split(".")[0] in ("PreCharge", "CurrentDemand", "ChargingStatus",
                                                                        "MeteringReceipt"):
            return self._request("PowerDelivery", now, progress="Stop")
        return self._request("SessionStop", now)

    # ------------------------------------------------------------------ sending

    def _request(self, pair: str, now: float, progress: str | None = None) -> list[Any]:
        table = self.dialect.table
        try:
            table.check(self.state, pair)
        except SequenceViolation as exc:  # our own bug: never send it
            raise LocalProtocolError(str(exc), exc.requirement) from exc
        message = v2g(self.session_id, f"{pair}Req", self._body(pair, progress))
        self._outstanding = (pair, message)
        spec = table.pairs[pair]
        self._arm("response", self._scaled(spec.timeout), now)
        for key in [k for k in self._timers if k.startswith("loop:")]:
            if spec.loop is None or key != f"loop:{spec.loop.name}":
                del self._timers[key]
        if spec.loop is not None and f"loop:{spec.loop.name}" not in self._timers:
            loop = spec.loop if self.config.loop_timeout_scale == 1.0 else spec.loop.scaled(self.config.loop_timeout_scale)
            self._arm(f"loop:{spec.loop.name}", loop, now)
        return [SendMessage(message, self.schema)]

    # ------------------------------------------------------------------ ending

    def _end(self, ok: bool, reason: str, now: float, requirement: str | None = None, code: str | None = None,
             timer: str | None = None, finding: bool = False, close: bool = True,
             paused_session_id: str | None = None) -> list[Any]:
        self.result = SessionResult(ok, reason, requirement, self.state, paused_session_id)
        self._timers.clear()
        self._scheduled = None
        self.battery.pause()
        out: list[Any] = []
        if finding:
            out.append(io.Notify("state", "peer_error", {"error": reason, "requirement": requirement}))
        if close:
            out.append(CloseConnection(reason))
        data: dict[str, Any] = {"ok": ok, "reason": reason, "state": self.state, "soc": round(self.battery.soc, 2)}
        for key, value in (("requirement", requirement), ("code", code), ("timer", timer),
                           ("paused_session_id", paused_session_id)):
            if value is not None:
                data[key] = value
        out.append(io.Notify("state", "session_end", data))
        return out
