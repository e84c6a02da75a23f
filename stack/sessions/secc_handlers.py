"""The SECC's answer to each request type, as a mixin of `SeccSession` (which owns the state, timers and replies).

Each `_on_<Pair>(req, message, now, cp_checked)` returns the response body, or `(body, (requirement, why))` when
the EV broke a content rule (the body then carries the FAILED_* code), or None to hold the response until the
pilot shows C/D (PowerDelivery(Start), bounded by V2G_SECC_CPState_Detection_Timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stack.sessions.din70121 import DIN
from stack.sessions.iso15118_2 import ISO2
from stack.sessions.messages import pv_value, session_id_of
from stack.sessions.sequence import energy_of

CHARGE_LOOP_STATES = ("CurrentDemand", "ChargingStatus", "MeteringReceipt")


@dataclass
class PausedSession:
    session_id: str
    payment_option: str
    energy: str | None


class SeccHandlers:
    """Content rules and bodies per request; see `stack.sessions.secc.SeccSession` for the attributes used."""

    ctx: Any
    config: Any
    dialect: Any
    state: str
    seq: Any
    session_id: str | None
    payment_option: str | None
    _first: dict[str, float]
    _ac_last: float | None
    _ac_wh: float

    def _on_SessionSetup(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        offered = session_id_of(message) or ""
        paused = self.ctx.paused
        if paused is not None and offered == paused.session_id:  # resume [V2G2-741]
            self.session_id, self.payment_option = paused.session_id, paused.payment_option
            self.ctx.paused = None
            code = "OK_OldSessionJoined"
        else:  # new session; an unknown non-zero ID gets a fresh one too [V2G2-756]
            self.session_id = self.ctx.new_session_id(avoid=offered)
            code = "OK_NewSessionEstablished"
            self.ctx.stage.reset_for_new_session()
            self.ctx.notification = "None"
        self.evcc_id = req.get("EVCCID")
        return self.dialect.session_setup_res(code, self.config.evse_id, None)

    def _on_ServiceDiscovery(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        return self.dialect.service_discovery_res("OK", list(self.config.energy_modes),
                                                  list(self.config.payment_options), self.config.free_service)

    def _on_ServiceDetail(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        service = int(req.get("ServiceID", -1))
        if service != 1:
            return ({"ResponseCode": "FAILED_ServiceIDInvalid", "ServiceID": service},
                    ("V2G2-464", f"ServiceDetailReq for ServiceID {service}, which was not offered"))
        return {"ResponseCode": "OK", "ServiceID": 1}

    def _on_payment(self, req: dict[str, Any], now: float) -> Any:
        din = self.dialect is DIN
        option = req.get("SelectedPaymentOption")
        allowed_options = ("ExternalPayment",) if din else self.config.payment_options
        if option not in allowed_options:
            return ({"ResponseCode": "FAILED_PaymentSelectionInvalid"},
                    ("V2G-DC-395" if din else "V2G2-465", f"payment option {option!r} was not offered"))
        selected = [int(s.get("ServiceID", -1)) for s in req.get("SelectedServiceList", {}).get("SelectedService", [])]
        if din and selected != [1]:
            return ({"ResponseCode": "FAILED_ServiceSelectionInvalid"},
                    ("V2G-DC-396", f"SelectedServiceList {selected}, expected exactly the charge service [1]"))
        if not din and 1 not in selected:
            return ({"ResponseCode": "FAILED_NoChargeServiceSelected"},
                    ("V2G2-804", f"SelectedServiceList {selected} lacks the charge service 1"))
        if not din and any(s != 1 for s in selected):
            return ({"ResponseCode": "FAILED_ServiceSelectionInvalid"},
                    ("V2G2-467", f"SelectedServiceList {selected} names services that were not offered"))
        self.payment_option = option
        return {"ResponseCode": "OK"}

    def _on_ServicePaymentSelection(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        return self._on_payment(req, now)

    def _on_PaymentServiceSelection(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        return self._on_payment(req, now)

    def _on_authorization(self, now: float) -> Any:
        start = self._first.setdefault("auth", now)
        wait = self.config.authorization_time
        done = self.ctx.authorized or (wait is not None and now - start >= wait)
        if done:
            processing = "Finished"
        else:  # [V2G2-854]: EIM still waiting for the customer
            processing = "Ongoing" if self.dialect is DIN else "Ongoing_WaitingForCustomerInteraction"
        return self.dialect.authorization_res("OK", processing)

    def _on_ContractAuthentication(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        return self._on_authorization(now)

    def _on_Authorization(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        return self._on_authorization(now)

    def _on_ChargeParameterDiscovery(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        din = self.dialect is DIN
        mode = req.get("EVRequestedEnergyTransferType" if din else "RequestedEnergyTransferMode")
        energy = energy_of(req) or "DC"
        if mode not in self.config.energy_modes:
            code = "FAILED_WrongEnergyTransferType" if din else "FAILED_WrongEnergyTransferMode"
            self.seq.energy = energy
            return (self._failed_body("ChargeParameterDiscovery", req, code, now),
                    ("V2G-DC-397" if din else "V2G2-476",
                     f"energy transfer {mode!r} not offered ({', '.join(self.config.energy_modes)})"))
        expected = "AC_EVChargeParameter" if str(mode).startswith("AC") else "DC_EVChargeParameter"
        if expected not in req:
            self.seq.energy = energy
            return (self._failed_body("ChargeParameterDiscovery", req, "FAILED_WrongChargeParameter", now),
                    ("V2G-DC-398" if din else "V2G2-477", f"{mode} requested without {expected}"))
        self.seq.energy = "AC" if str(mode).startswith("AC") else "DC"
        self.ev_parameters = req[expected]
        start = self._first.setdefault("cpd", now)
        processing = "Finished" if now - start >= self.config.charge_parameter_time else "Ongoing"
        pmax = self.config.pmax_w if self.config.pmax_w is not None else self.ctx.limits(self.energy).max_power
        # [V2G2-303]: the schedule spans the EV's DepartureTime when it gave one; else 24 h [V2G2-304]
        departure = self.ev_parameters.get("DepartureTime") if not din else None
        duration = int(departure) if isinstance(departure, int) and departure > 0 else self.config.schedule_duration
        return self.dialect.charge_parameter_discovery_res(
            "OK", processing, self._status(now), self.ctx.limits(self.energy), self.energy, pmax,
            duration, self.config.sa_schedule_tuple_id, schedule=processing == "Finished")

    def _on_CableCheck(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        stage = self.ctx.stage
        if self.config.cp_detection and self.ctx.cp_state is not None and self.ctx.cp_state not in ("C", "D"):
            # The insulation test needs the EV's contactors closed: wait for state C/D [V2G-DC-547].
            return self.dialect.cable_check_res("OK", self._status(now, "EVSE_NotReady", "Invalid"), "Ongoing")
        stage.start_isolation_test(now)
        result = stage.isolation_status(now)
        if result is None:
            status = self._status(now, "EVSE_IsolationMonitoringActive", "Invalid")
            return self.dialect.cable_check_res("OK", status, "Ongoing")
        if result == "Fault":
            return self.dialect.cable_check_res("FAILED", self._status(now, "EVSE_Malfunction", "Fault"), "Finished")
        return self.dialect.cable_check_res("OK", self._status(now, isolation=result), "Finished")

    def _on_PreCharge(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        stage = self.ctx.stage
        voltage, current = pv_value(req.get("EVTargetVoltage"), 0.0), pv_value(req.get("EVTargetCurrent"), 0.0)
        stage.switch_on(now)
        stage.set_target(voltage, current, now)
        stage.update(now)
        return self.dialect.pre_charge_res("OK", self._status(now), stage.voltage)

    def _on_PowerDelivery(self, req: dict[str, Any], message: dict[str, Any], now: float, cp_checked: bool) -> Any:
        din, stage = self.dialect is DIN, self.ctx.stage
        progress = req.get("ChargeProgress") or ("Start" if req.get("ReadyToChargeState") in (True, "true") else "Stop")
        energy = self.energy
        if progress == "Start":
            problem = self._power_delivery_problem(req, din)
            if problem is not None:
                code, requirement, why = problem
                return self._failed_body("PowerDelivery", req, code, now), (requirement, why)
            if (self.config.cp_detection and not cp_checked and self.ctx.cp_state is not None
                    and self.ctx.cp_state not in ("C", "D")):
                return None  # hold the response until the pilot shows C/D
            stage.switch_on(now)
            self._ac_last = now
        elif progress == "Stop":
            stage.switch_off(now)
            if self.ctx.notification == "StopCharging":
                self.ctx.notification = "None"
        elif progress == "Renegotiate":
            if self.state not in CHARGE_LOOP_STATES:
                return (self._failed_body("PowerDelivery", req, "FAILED", now),
                        ("V2G2-812", f"PowerDelivery(Renegotiate) after {self.state}, not from the charge loop"))
            self.ctx.notification = "None"
            self._first.pop("cpd", None)
        return self.dialect.power_delivery_res("OK", self._status(now), energy)

    def _power_delivery_problem(self, req: dict[str, Any], din: bool) -> tuple[str, str, str] | None:
        stage = self.ctx.stage
        if stage.emergency or stage.isolation_status(float("inf")) == "Fault":
            return ("FAILED_PowerDeliveryNotApplied", "V2G-DC-401" if din else "V2G2-480",
                    "PowerDelivery(Start) while the EVSE is not ready")
        profile = req.get("ChargingProfile") or {}
        tuple_id = profile.get("SAScheduleTupleID") if din else req.get("SAScheduleTupleID")
        if tuple_id is not None and int(tuple_id) != self.config.sa_schedule_tuple_id:
            return ("FAILED_TariffSelectionInvalid", "V2G-DC-400" if din else "V2G2-479",
                    f"SAScheduleTupleID {tuple_id} was not offered")
        pmax = self.config.pmax_w if self.config.pmax_w is not None else self.ctx.limits(self.energy).max_power
        for entry in profile.get("ProfileEntry", []):
            power = entry.get("ChargingProfileEntryMaxPower")
            watts = float(power) if din else pv_value(power, 0.0)
            if watts > (min(pmax, 32767) if din else pmax):
                return ("FAILED_ChargingProfileInvalid", "V2G-DC-399" if din else "V2G2-225",
                        f"ChargingProfile entry of {watts:g} W exceeds PMax {pmax:g} W")
        return None

    def _on_CurrentDemand(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        stage = self.ctx.stage
        voltage, current = pv_value(req.get("EVTargetVoltage"), 0.0), pv_value(req.get("EVTargetCurrent"), 0.0)
        stage.set_target(voltage, current, now)
        stage.update(now)
        return self.dialect.current_demand_res("OK", self._status(now), stage.voltage, stage.current,
                                               stage.limits_hit(voltage, current), self.ctx.limits("DC"),
                                               self.config.evse_id, self.config.sa_schedule_tuple_id,
                                               self.config.receipt_required)

    def _on_ChargingStatus(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        c = self.config.power
        ev_max = pv_value((getattr(self, "ev_parameters", {}) or {}).get("EVMaxCurrent"), c.ac_max_current)
        current = 0.0 if self.ctx.stage.emergency else min(ev_max, c.ac_max_current)
        if self._ac_last is not None and self.ctx.stage.output_on:
            self._ac_wh += current * c.ac_nominal_voltage * c.ac_phases * (now - self._ac_last) / 3600.0
        self._ac_last = now
        return ISO2.charging_status_res("OK", self._status(now), self.config.evse_id, self.config.sa_schedule_tuple_id,
                                        c.ac_max_current, int(self._ac_wh), self.config.receipt_required)

    def _on_MeteringReceipt(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        return ISO2.metering_receipt_res("OK", self._status(now), self.energy)

    def _on_WeldingDetection(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        self.ctx.stage.update(now)
        return self.dialect.welding_detection_res("OK", self._status(now), self.ctx.stage.voltage)

    def _on_SessionStop(self, req: dict[str, Any], message: dict[str, Any], now: float, _: bool) -> Any:
        if req.get("ChargingSession") == "Pause" and self.session_id:
            self.ctx.paused = PausedSession(self.session_id, self.payment_option or "ExternalPayment", self.seq.energy)
        else:
            self.ctx.paused = None
        self.ctx.stage.switch_off(now)
        return self.dialect.simple_res("OK")
