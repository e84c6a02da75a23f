"""What differs between DIN SPEC 70121 and ISO 15118-2 at the message level, behind one interface.

The SECC and EVCC machines (`secc.py`, `evcc.py`) speak in steps ("answer the authorization", "request charge
parameters"); a `Dialect` turns each step into the body the standard's schema wants. Most DC bodies are the same in
both standards and live here; `din70121.Din` and `iso15118_2.Iso2` override the rest. Bodies are built with the
mandatory fields always present, so a negative response is still schema-valid with minimal content [V2G2-736].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from stack.sessions.messages import pv
from stack.sessions.sequence import SequenceTable


@dataclass(frozen=True)
class EvseStatus:
    """The EVSE status block every DC/AC response carries."""

    code: str = "EVSE_Ready"  # DC_EVSEStatusCode
    notification: str = "None"  # EVSENotification: None | StopCharging | ReNegotiation
    max_delay: int = 0  # NotificationMaxDelay (s)
    isolation: str | None = None  # EVSEIsolationStatus: Invalid | Valid | Warning | Fault | No_IMD (ISO-2)
    rcd: bool = False  # AC: residual current device tripped


@dataclass(frozen=True)
class EvStatus:
    ready: bool = True
    error: str = "NO_ERROR"
    soc: float = 50.0


@dataclass(frozen=True)
class EvseLimits:
    max_voltage: float
    min_voltage: float
    max_current: float
    min_current: float
    max_power: float
    regulation_tolerance: float
    peak_ripple: float
    nominal_voltage: float = 230.0  # AC
    energy_to_deliver: float | None = None


@dataclass(frozen=True)
class EvLimits:
    max_voltage: float
    max_current: float
    max_power: float
    capacity_wh: float
    energy_request_wh: float
    full_soc: float
    bulk_soc: float
    min_current: float = 6.0  # AC
    departure_time: int | None = None


class Dialect:
    schema: ClassVar[str]
    namespace: ClassVar[str]
    version: ClassVar[tuple[int, int]]
    table: ClassVar[SequenceTable]
    payment_pair: ClassVar[str]
    authorization_pair: ClassVar[str]
    ac_supported: ClassVar[bool]

    # ------------------------------------------------------------------ shared pieces

    def dc_evse_status(self, status: EvseStatus) -> dict[str, Any]:
        out: dict[str, Any] = {"NotificationMaxDelay": status.max_delay, "EVSENotification": status.notification,
                               "EVSEStatusCode": status.code}
        if status.isolation is not None:
            out["EVSEIsolationStatus"] = status.isolation
        return out

    def ev_status(self, status: EvStatus) -> dict[str, Any]:
        return {"EVReady": status.ready, "EVErrorCode": status.error,
                "EVRESSSOC": max(0, min(100, int(round(status.soc))))}

    def evse_status_element(self, status: EvseStatus, energy: str) -> tuple[str, dict[str, Any]]:
        return "DC_EVSEStatus", self.dc_evse_status(status)

    # ------------------------------------------------------------------ SECC responses (shared)

    def simple_res(self, code: str) -> dict[str, Any]:
        """ServicePaymentSelectionRes / PaymentServiceSelectionRes / SessionStopRes."""
        return {"ResponseCode": code}

    def authorization_res(self, code: str, processing: str) -> dict[str, Any]:
        return {"ResponseCode": code, "EVSEProcessing": processing}

    def cable_check_res(self, code: str, status: EvseStatus, processing: str) -> dict[str, Any]:
        return {"ResponseCode": code, "DC_EVSEStatus": self.dc_evse_status(status), "EVSEProcessing": processing}

    def pre_charge_res(self, code: str, status: EvseStatus, voltage: float) -> dict[str, Any]:
        return {"ResponseCode": code, "DC_EVSEStatus": self.dc_evse_status(status),
                "EVSEPresentVoltage": pv(voltage, "V")}

    welding_detection_res = pre_charge_res

    def power_delivery_res(self, code: str, status: EvseStatus, energy: str) -> dict[str, Any]:
        key, value = self.evse_status_element(status, energy)
        return {"ResponseCode": code, key: value}

    def current_demand_res(self, code: str, status: EvseStatus, voltage: float, current: float,
                           flags: dict[str, bool], limits: EvseLimits, evse_id: str, tuple_id: int,
                           receipt: bool) -> dict[str, Any]:
        return {"ResponseCode": code, "DC_EVSEStatus": self.dc_evse_status(status),
                "EVSEPresentVoltage": pv(voltage, "V"), "EVSEPresentCurrent": pv(current, "A"),
                "EVSECurrentLimitAchieved": flags.get("current", False),
                "EVSEVoltageLimitAchieved": flags.get("voltage", False),
                "EVSEPowerLimitAchieved": flags.get("power", False),
                "EVSEMaximumVoltageLimit": pv(limits.max_voltage, "V"),
                "EVSEMaximumCurrentLimit": pv(limits.max_current, "A"),
                "EVSEMaximumPowerLimit": pv(limits.max_power, "W")}

    def dc_evse_charge_parameter(self, status: EvseStatus, limits: EvseLimits) -> dict[str, Any]:
        out = {"DC_EVSEStatus": self.dc_evse_status(status),
               "EVSEMaximumCurrentLimit": pv(limits.max_current, "A"),
               "EVSEMaximumPowerLimit": pv(limits.max_power, "W"),
               "EVSEMaximumVoltageLimit": pv(limits.max_voltage, "V"),
               "EVSEMinimumCurrentLimit": pv(limits.min_current, "A"),
               "EVSEMinimumVoltageLimit": pv(limits.min_voltage, "V"),
               "EVSECurrentRegulationTolerance": pv(limits.regulation_tolerance, "A"),
               "EVSEPeakCurrentRipple": pv(limits.peak_ripple, "A")}
        if limits.energy_to_deliver is not None:
            out["EVSEEnergyToBeDelivered"] = pv(limits.energy_to_deliver, "Wh")
        return out

    # ------------------------------------------------------------------ EVCC requests (shared)

    @staticmethod
    def evcc_id(mac: str) -> str:
        return mac.replace(":", "").replace("-", "").lower()

    def session_setup_req(self, evcc_id: str) -> dict[str, Any]:
        return {"EVCCID": evcc_id}

    def service_discovery_req(self) -> dict[str, Any]:
        return {}

    def payment_selection_req(self, option: str, service_id: int) -> dict[str, Any]:
        return {"SelectedPaymentOption": option,
                "SelectedServiceList": {"SelectedService": [{"ServiceID": service_id}]}}

    def authorization_req(self) -> dict[str, Any]:
        return {}

    def cable_check_req(self, status: EvStatus) -> dict[str, Any]:
        return {"DC_EVStatus": self.ev_status(status)}

    welding_detection_req = cable_check_req

    def pre_charge_req(self, status: EvStatus, voltage: float, current: float) -> dict[str, Any]:
        return {"DC_EVStatus": self.ev_status(status), "EVTargetVoltage": pv(voltage, "V"),
                "EVTargetCurrent": pv(current, "A")}

    def current_demand_req(self, status: EvStatus, voltage: float, current: float, limits: EvLimits,
                           bulk_complete: bool, complete: bool, remaining_full_s: float | None,
                           remaining_bulk_s: float | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "DC_EVStatus": self.ev_status(status), "EVTargetCurrent": pv(current, "A"),
            "EVMaximumVoltageLimit": pv(limits.max_voltage, "V"),
            "EVMaximumCurrentLimit": pv(limits.max_current, "A"),
            "EVMaximumPowerLimit": pv(limits.max_power, "W"),
            "BulkChargingComplete": bulk_complete, "ChargingComplete": complete,
            "EVTargetVoltage": pv(voltage, "V")}
        if remaining_full_s is not None:
            body["RemainingTimeToFullSoC"] = pv(remaining_full_s, "s")
        if remaining_bulk_s is not None:
            body["RemainingTimeToBulkSoC"] = pv(remaining_bulk_s, "s")
        return body

    # ------------------------------------------------------------------ per-standard (overridden)

    def session_setup_res(self, code: str, evse_id: str, timestamp: int | None) -> dict[str, Any]:
        raise NotImplementedError

    def service_discovery_res(self, code: str, energy_modes: list[str], payment_options: list[str],
                              free: bool) -> dict[str, Any]:
        raise NotImplementedError

    def charge_parameter_discovery_res(self, code: str, processing: str, status: EvseStatus, limits: EvseLimits,
                                       energy: str, pmax_w: float, duration: int, tuple_id: int,
                                       schedule: bool) -> dict[str, Any]:
        raise NotImplementedError

    def charge_parameter_discovery_req(self, mode: str, status: EvStatus, limits: EvLimits,
                                       max_entries: int | None) -> dict[str, Any]:
        raise NotImplementedError

    def power_delivery_req(self, progress: str, status: EvStatus, tuple_id: int, profile: list[dict[str, Any]],
                           energy: str, bulk_complete: bool, complete: bool) -> dict[str, Any]:
        raise NotImplementedError

    def session_stop_req(self, reason: str) -> dict[str, Any]:
        raise NotImplementedError

    def offered_modes(self, response_body: dict[str, Any]) -> list[str]:
        """The energy transfer modes a ServiceDiscoveryRes offers."""
        raise NotImplementedError

    def offered_payment_options(self, response_body: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def charge_service_id(self, response_body: dict[str, Any]) -> int:
        raise NotImplementedError

    def selected_tuple_id(self, response_body: dict[str, Any]) -> tuple[int | None, float | None]:
        """(SAScheduleTupleID, first PMax in W) from a ChargeParameterDiscoveryRes, when it carries schedules."""
        raise NotImplementedError
