"""The bodies of the EVCC's requests, built from its battery and what the SECC offered; a mixin of `EvccSession`
(which decides *which* request comes next)."""

from __future__ import annotations

from typing import Any

from stack.errors import LocalProtocolError
from stack.sessions.dialect import EvLimits, EvStatus
from stack.sessions.iso15118_2 import ISO2


class EvccRequests:
    """See `stack.sessions.evcc.EvccSession` for the attributes used."""

    config: Any
    battery: Any
    dialect: Any
    seq: Any
    evcc_id: str
    stop_request: str | None
    charge_service: int
    tuple_id: int
    pmax: float | None
    evse_max_current: float | None
    precharge_target: float
    welding_requests: int

    def _status(self) -> EvStatus:
        if self.stop_request == "emergency":
            return EvStatus(False, "FAILED_EVRESSMalfunction", self.battery.soc)
        return EvStatus(True, "NO_ERROR", self.battery.soc)

    def _limits(self) -> EvLimits:
        c = self.battery.config
        if self.seq.energy == "AC":
            return EvLimits(400.0 if c.ac_phases == 3 else c.ac_voltage, c.ac_max_current,
                            c.ac_max_current * c.ac_voltage * c.ac_phases, c.capacity_kwh * 1000,
                            self.battery.energy_request_wh(), c.full_soc, c.bulk_soc, c.ac_min_current,
                            self.config.departure_time)
        return EvLimits(c.max_voltage, c.max_current, c.max_power, c.capacity_kwh * 1000,
                        self.battery.energy_request_wh(), c.full_soc, c.bulk_soc,
                        departure_time=self.config.departure_time)

    def _body(self, pair: str, progress: str | None) -> dict[str, Any]:
        d, battery = self.dialect, self.battery
        if pair == "SessionSetup":
            return d.session_setup_req(self.evcc_id)
        if pair == "ServiceDiscovery":
            return d.service_discovery_req()
        if pair == "ServiceDetail":
            return ISO2.service_detail_req(self.charge_service)
        if pair == d.payment_pair:
            return d.payment_selection_req(self.config.payment_option, self.charge_service)
        if pair == d.authorization_pair:
            return d.authorization_req()
        if pair == "ChargeParameterDiscovery":
            return d.charge_parameter_discovery_req(self.config.energy_mode, self._status(), self._limits(),
                                                    self.config.max_entries_sa_schedule_tuple)
        if pair == "CableCheck":
            return d.cable_check_req(self._status())
        if pair == "PreCharge":
            self.precharge_target = battery.open_circuit_voltage
            return d.pre_charge_req(self._status(), self.precharge_target, battery.config.precharge_current)
        if pair == "PowerDelivery":
            profile = []
            if progress == "Start" and self.config.charging_profile:
                power = min(self.pmax if self.pmax else battery.config.max_power, battery.config.max_power)
                profile = [{"start": 0, "power": power}]
            return d.power_delivery_req(progress or "Stop", self._status(), self.tuple_id, profile, self.seq.energy,
                                        battery.bulk_complete, battery.complete or progress != "Start")
        if pair == "CurrentDemand":
            current = battery.target_current()
            if self.evse_max_current:
                current = min(current, self.evse_max_current)
            if self.stop_request is not None:
                current = 0.0
            return d.current_demand_req(self._status(), battery.target_voltage(current), current, self._limits(),
                                        battery.bulk_complete, battery.complete,
                                        battery.remaining_time(battery.config.full_soc, current),
                                        battery.remaining_time(battery.config.bulk_soc, current))
        if pair == "ChargingStatus":
            return ISO2.charging_status_req()
        if pair == "WeldingDetection":
            self.welding_requests += 1
            return d.welding_detection_req(self._status())
        if pair == "SessionStop":
            return d.session_stop_req("pause" if self.stop_request == "pause" else "terminate")
        raise LocalProtocolError(f"cannot build {pair}Req")

