"""DIN SPEC 70121 (DC only): timers, the message sequence table, and the message bodies both roles build.

Timers: DIN 70121 §9.6.2 Table 75 (per message) and §9.6.5.5 Table 77, as [Josev] din_spec/timeouts.py lists them
(PROTOCOL.md §D.1). Sequence: Josev's din_spec_states.py and EVerest's DIN state table as cited in
requirements.csv (V2G-DC-4xx).
"""

from __future__ import annotations

from typing import Any

from stack.sessions.dialect import Dialect, EvLimits, EvseLimits, EvseStatus, EvStatus
from stack.sessions.messages import pv
from stack.sessions.sequence import INITIAL, Pair, SequenceTable, allowed
from stack.timers import SpecTimer

SCHEMA = "din"
NAMESPACE = "urn:din:70121:2012:MsgDef"
VERSION = (2, 0)

_SRC = "DIN 70121 §9.6.2 Table 75; [Josev] din_spec/timeouts.py"
_SRC77 = "DIN 70121 §9.6.5.5 Table 77; [Josev] din_spec/timeouts.py"


def _msg(req: str, seconds: float) -> SpecTimer:
    return SpecTimer(f"V2G_EVCC_Msg_Timeout({req})", seconds, _SRC)


V2G_EVCC_CommunicationSetup_Timeout = SpecTimer("V2G_EVCC_CommunicationSetup_Timeout", 20, _SRC77)
V2G_EVCC_ReadyToCharge_Timeout = SpecTimer("V2G_EVCC_ReadyToCharge_Timeout", 150, _SRC77)
V2G_EVCC_CableCheck_Timeout = SpecTimer("V2G_EVCC_CableCheck_Timeout", 40, _SRC77)
V2G_EVCC_PreCharge_Timeout = SpecTimer("V2G_EVCC_PreCharge_Timeout", 7, _SRC77)
V2G_SECC_Sequence_Timeout = SpecTimer("V2G_SECC_Sequence_Timeout", 60, _SRC)
V2G_SECC_CPState_Detection_Timeout = SpecTimer("V2G_SECC_CPState_Detection_Timeout", 1.5, _SRC77)
V2G_SECC_CPOscillator_Retain_Time = SpecTimer("V2G_SECC_CPOscillator_Retain_Time", 1.5, _SRC77)

PAIRS = {p.name: p for p in (
    Pair("SessionSetup", _msg("SessionSetupReq", 2)),
    Pair("ServiceDiscovery", _msg("ServiceDiscoveryReq", 2)),
    Pair("ServicePaymentSelection", _msg("ServicePaymentSelectionReq", 2)),
    Pair("ContractAuthentication", _msg("ContractAuthenticationReq", 2), V2G_EVCC_ReadyToCharge_Timeout),
    Pair("ChargeParameterDiscovery", _msg("ChargeParameterDiscoveryReq", 2), V2G_EVCC_ReadyToCharge_Timeout),
    Pair("CableCheck", _msg("CableCheckReq", 2), V2G_EVCC_CableCheck_Timeout),
    Pair("PreCharge", _msg("PreChargeReq", 2), V2G_EVCC_PreCharge_Timeout),
    Pair("PowerDelivery", _msg("PowerDeliveryReq", 2)),
    Pair("CurrentDemand", _msg("CurrentDemandReq", 0.25)),
    Pair("WeldingDetection", _msg("WeldingDetectionReq", 2)),
    Pair("SessionStop", _msg("SessionStopReq", 2)),
)}

AFTER = {
    INITIAL: allowed("SupportedAppProtocol", requirement="V2G-DC-436"),
    "SupportedAppProtocol": allowed("SessionSetup", requirement="V2G-DC-437"),
    "SessionSetup": allowed("ServiceDiscovery", "SessionStop", requirement="V2G-DC-438"),
    "ServiceDiscovery": allowed("ServicePaymentSelection", "SessionStop", requirement="V2G-DC-441"),
    "ServicePaymentSelection": allowed("ContractAuthentication", "SessionStop", requirement="V2G-DC-444"),
    "ContractAuthentication.Ongoing": allowed("ContractAuthentication", requirement="V2G-DC-497"),
    "ContractAuthentication.Finished": allowed("ChargeParameterDiscovery", "SessionStop", requirement="V2G-DC-495"),
    "ChargeParameterDiscovery.Ongoing": allowed("ChargeParameterDiscovery", requirement="V2G-DC-498"),
    "ChargeParameterDiscovery.Finished": allowed("CableCheck", requirement="V2G-DC-453"),
    "CableCheck.Ongoing": allowed("CableCheck", requirement="V2G-DC-455"),
    "CableCheck.Finished": allowed("PreCharge", requirement="V2G-DC-499"),
    "PreCharge": allowed("PreCharge", "PowerDelivery", "SessionStop", requirement="V2G-DC-458"),
    "PowerDelivery.Start": allowed("CurrentDemand", requirement="V2G-DC-462"),
    "CurrentDemand": allowed("CurrentDemand", "PowerDelivery", requirement="V2G-DC-465"),
    "PowerDelivery.Stop": allowed("WeldingDetection", "SessionStop", requirement="V2G-DC-459"),
    "WeldingDetection": allowed("WeldingDetection", "SessionStop", requirement="V2G-DC-469"),
    "SessionStop": allowed(requirement="V2G-DC-451"),
    "Failed": allowed(requirement="V2G-DC-665"),
}

TABLE = SequenceTable(
    standard=SCHEMA,
    pairs=PAIRS,
    after=AFTER,
    handshake=Pair("SupportedAppProtocol", _msg("supportedAppProtocolReq", 2)),
    communication_setup=V2G_EVCC_CommunicationSetup_Timeout,
    sequence_timeout=V2G_SECC_Sequence_Timeout,
    extra_timers={"cp_detection": V2G_SECC_CPState_Detection_Timeout,
                  "cp_oscillator_retain": V2G_SECC_CPOscillator_Retain_Time},
)


class Din(Dialect):
    schema = SCHEMA
    namespace = NAMESPACE
    version = VERSION
    table = TABLE
    payment_pair = "ServicePaymentSelection"
    authorization_pair = "ContractAuthentication"
    ac_supported = False

    # ------------------------------------------------------------------ SECC side

    @staticmethod
    def evse_id(configured: str) -> str:
        """DIN EVSEID is hexBinary (<= 32 bytes); an ISO-style text ID is sent as its ASCII bytes."""
        try:
            bytes.fromhex(configured)
            return configured.lower()
        except ValueError:
            return configured.encode("ascii", "replace")[:32].hex()

    def dc_evse_status(self, status: EvseStatus) -> dict[str, Any]:
        out = super().dc_evse_status(status)
        if out.get("EVSEIsolationStatus") == "No_IMD":  # not in DIN's isolationLevelType
            out["EVSEIsolationStatus"] = "Invalid"
        return out

    def session_setup_res(self, code: str, evse_id: str, timestamp: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"ResponseCode": code, "EVSEID": self.evse_id(evse_id)}
        if timestamp is not None:
            body["DateTimeNow"] = timestamp
        return body

    def service_discovery_res(self, code: str, energy_modes: list[str], payment_options: list[str],
                              free: bool) -> dict[str, Any]:
        # Only ExternalPayment [V2G-DC-252]; no ServiceName/ServiceScope [V2G-DC-628]/[V2G-DC-629].
        dc_modes = [m for m in energy_modes if m.startswith("DC")] or ["DC_extended"]
        return {"ResponseCode": code,
                "PaymentOptions": {"PaymentOption": ["ExternalPayment"]},
                "ChargeService": {"ServiceTag": {"ServiceID": 1, "ServiceCategory": "EVCharging"},
                                  "FreeService": free, "EnergyTransferType": dc_modes[0]}}

    def charge_parameter_discovery_res(self, code: str, processing: str, status: EvseStatus, limits: EvseLimits,
                                       energy: str, pmax_w: float, duration: int, tuple_id: int,
                                       schedule: bool) -> dict[str, Any]:
        # DIN's SASchedules is mandatory; PMax is a bare short (W), so it saturates at 32767.
        # No SalesTariff under DIN [V2G-DC-554].
        schedule_list = {"SAScheduleTuple": [{
            "SAScheduleTupleID": tuple_id,
            "PMaxSchedule": {"PMaxScheduleID": tuple_id, "PMaxScheduleEntry": [
                {"RelativeTimeInterval": {"start": 0, "duration": duration}, "PMax": int(min(32767, pmax_w))}]}}]}
        return {"ResponseCode": code, "EVSEProcessing": processing, "SAScheduleList": schedule_list,
                "DC_EVSEChargeParameter": self.dc_evse_charge_parameter(status, limits)}

    # ------------------------------------------------------------------ EVCC side

    def charge_parameter_discovery_req(self, mode: str, status: EvStatus, limits: EvLimits,
                                       max_entries: int | None) -> dict[str, Any]:
        return {"EVRequestedEnergyTransferType": mode, "DC_EVChargeParameter": {
            "DC_EVStatus": self.ev_status(status),
            "EVMaximumCurrentLimit": pv(limits.max_current, "A"),
            "EVMaximumPowerLimit": pv(limits.max_power, "W"),
            "EVMaximumVoltageLimit": pv(limits.max_voltage, "V"),
            "EVEnergyCapacity": pv(limits.capacity_wh, "Wh"),
            "EVEnergyRequest": pv(limits.energy_request_wh, "Wh"),
            "FullSOC": int(limits.full_soc), "BulkSOC": int(limits.bulk_soc)}}

    def power_delivery_req(self, progress: str, status: EvStatus, tuple_id: int, profile: list[dict[str, Any]],
                           energy: str, bulk_complete: bool, complete: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"ReadyToChargeState": progress == "Start"}
        if profile and progress == "Start":
            body["ChargingProfile"] = {"SAScheduleTupleID": tuple_id, "ProfileEntry": [
                {"ChargingProfileEntryStart": int(e["start"]),
                 "ChargingProfileEntryMaxPower": int(min(32767, e["power"]))} for e in profile]}
        body["DC_EVPowerDeliveryParameter"] = {"DC_EVStatus": self.ev_status(status),
                                               "BulkChargingComplete": bulk_complete, "ChargingComplete": complete}
        return body

    def session_stop_req(self, reason: str) -> dict[str, Any]:
        return {}  # DIN's SessionStopReq has no content (no pause)

    def offered_modes(self, response_body: dict[str, Any]) -> list[str]:
        mode = response_body.get("ChargeService", {}).get("EnergyTransferType")
        return [mode] if mode else []

    def offered_payment_options(self, response_body: dict[str, Any]) -> list[str]:
        return list(response_body.get("PaymentOptions", {}).get("PaymentOption", []))

    def charge_service_id(self, response_body: dict[str, Any]) -> int:
        return int(response_body.get("ChargeService", {}).get("ServiceTag", {}).get("ServiceID", 1))

    def selected_tuple_id(self, response_body: dict[str, Any]) -> tuple[int | None, float | None]:
        try:
            first = response_body["SAScheduleList"]["SAScheduleTuple"][0]
            entry = first["PMaxSchedule"]["PMaxScheduleEntry"][0]
            return int(first["SAScheduleTupleID"]), float(entry["PMax"])
        except (KeyError, IndexError, TypeError, ValueError):
            return None, None


DIN = Din()
