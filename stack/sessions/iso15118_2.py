"""ISO 15118-2:2014 (EIM; AC and DC): timers, the message sequence table, and the bodies that differ from DIN.

Timers: ISO 15118-2 Table 109/110 as [Josev] messages/timeouts.py lists them (PROTOCOL.md §D.1): PowerDelivery
5 s, ServiceDetail/PaymentDetails/certificates 5 s, CurrentDemand 0.25 s, the others 2 s. Sequence: ISO 15118-2
§8.8 as cited in requirements.csv (V2G2-5xx, -6xx, -7xx, -8xx); renegotiation [V2G2-812]/[V2G2-813]; pause/resume
via SessionStop(Pause) and SessionSetup with the previous SessionID [V2G2-740]/[V2G2-741]/[V2G2-756].
"""

from __future__ import annotations

from typing import Any

from stack.sessions.dialect import Dialect, EvLimits, EvseLimits, EvseStatus, EvStatus
from stack.sessions.messages import pv, pv_value
from stack.sessions.sequence import INITIAL, Pair, SequenceTable, allowed
from stack.timers import SpecTimer

SCHEMA = "iso2"
NAMESPACE = "urn:iso:15118:2:2013:MsgDef"
VERSION = (2, 0)

_SRC = "ISO 15118-2 Table 109; [Josev] messages/timeouts.py"
_SRC110 = "ISO 15118-2 Table 110; [Josev] messages/timeouts.py"


def _msg(req: str, seconds: float) -> SpecTimer:
    return SpecTimer(f"V2G_EVCC_Msg_Timeout({req})", seconds, _SRC)


V2G_EVCC_CommunicationSetup_Timeout = SpecTimer("V2G_EVCC_CommunicationSetup_Timeout", 20, _SRC110)
V2G_EVCC_Ongoing_Timeout = SpecTimer("V2G_EVCC_Ongoing_Timeout", 60, _SRC110)
V2G_EVCC_CableCheck_Timeout = SpecTimer("V2G_EVCC_CableCheck_Timeout", 40, _SRC110)
V2G_EVCC_PreCharge_Timeout = SpecTimer("V2G_EVCC_PreCharge_Timeout", 7, _SRC110)
V2G_SECC_Sequence_Timeout = SpecTimer("V2G_SECC_Sequence_Timeout", 60, _SRC110 + "; [V2G2-443]")
# ISO 15118-2 has no SECC CP detection timer of its own; [V2G2-860] gives the EVSE 3 s after C/D to close its
# contactors. We hold PowerDeliveryRes(Start) at most this long waiting for C/D.
V2G_SECC_CPState_Detection_Timeout = SpecTimer("V2G_SECC_CPState_Detection_Timeout", 1.5,
                                               "DIN 70121 Table 77 (used for ISO-2 too, within [V2G2-860] 3 s)")

PAIRS = {p.name: p for p in (
    Pair("SessionSetup", _msg("SessionSetupReq", 2)),
    Pair("ServiceDiscovery", _msg("ServiceDiscoveryReq", 2)),
    Pair("ServiceDetail", _msg("ServiceDetailReq", 5)),
    Pair("PaymentServiceSelection", _msg("PaymentServiceSelectionReq", 2)),
    Pair("PaymentDetails", _msg("PaymentDetailsReq", 5)),
    Pair("CertificateInstallation", _msg("CertificateInstallationReq", 5)),
    Pair("CertificateUpdate", _msg("CertificateUpdateReq", 5)),
    Pair("Authorization", _msg("AuthorizationReq", 2), V2G_EVCC_Ongoing_Timeout),
    Pair("ChargeParameterDiscovery", _msg("ChargeParameterDiscoveryReq", 2), V2G_EVCC_Ongoing_Timeout),
    Pair("CableCheck", _msg("CableCheckReq", 2), V2G_EVCC_CableCheck_Timeout),
    Pair("PreCharge", _msg("PreChargeReq", 2), V2G_EVCC_PreCharge_Timeout),
    Pair("PowerDelivery", _msg("PowerDeliveryReq", 5)),
    Pair("CurrentDemand", _msg("CurrentDemandReq", 0.25)),
    Pair("ChargingStatus", _msg("ChargingStatusReq", 2)),
    Pair("MeteringReceipt", _msg("MeteringReceiptReq", 2)),
    Pair("WeldingDetection", _msg("WeldingDetectionReq", 2)),
    Pair("SessionStop", _msg("SessionStopReq", 2)),
)}

_AUTH = "V2G2-573, V2G2-687"
AFTER = {
    INITIAL: allowed("SupportedAppProtocol", requirement="V2G2-540"),
    "SupportedAppProtocol": allowed("SessionSetup", requirement="V2G2-541"),
    "SessionSetup": allowed("ServiceDiscovery", "SessionStop", requirement="V2G2-543"),
    "ServiceDiscovery": allowed("ServiceDetail", "PaymentServiceSelection", "SessionStop", requirement="V2G2-545"),
    "ServiceDetail": allowed("ServiceDetail", "PaymentServiceSelection", "SessionStop", requirement="V2G2-545"),
    "PaymentServiceSelection.ExternalPayment": allowed("Authorization", "SessionStop", requirement="V2G2-551"),
    "PaymentServiceSelection.Contract": allowed("PaymentDetails", "CertificateInstallation", "CertificateUpdate",
                                                "SessionStop", requirement="V2G2-551"),
    "CertificateInstallation": allowed("PaymentDetails", "SessionStop", requirement="V2G2-554"),
    "CertificateUpdate": allowed("PaymentDetails", "SessionStop", requirement="V2G2-557"),
    "PaymentDetails": allowed("Authorization", "SessionStop", requirement="V2G2-560"),
    "Authorization.Ongoing": allowed("Authorization", requirement=_AUTH),
    "Authorization.Finished": allowed("ChargeParameterDiscovery", "SessionStop", requirement=_AUTH),
    "ChargeParameterDiscovery.Ongoing": allowed("ChargeParameterDiscovery", requirement="V2G2-688"),
    "ChargeParameterDiscovery.Finished.DC": allowed("CableCheck", requirement="V2G2-582"),
    "ChargeParameterDiscovery.Finished.AC": allowed("PowerDelivery", "SessionStop",
                                                    requirement="ccs-hil:iso2-ac-cpd-next"),
    "ChargeParameterDiscovery.Finished.Renegotiation": allowed("PowerDelivery", requirement="V2G2-813"),
    "CableCheck.Ongoing": allowed("CableCheck", requirement="V2G2-621"),
    "CableCheck.Finished": allowed("PreCharge", requirement="V2G2-584"),
    "PreCharge": allowed("PreCharge", "PowerDelivery", "SessionStop", requirement="V2G2-587"),
    "PowerDelivery.Start.DC": allowed("CurrentDemand", requirement="V2G2-590"),
    "PowerDelivery.Start.AC": allowed("ChargingStatus", requirement="V2G2-576"),
    "CurrentDemand": allowed("CurrentDemand", "PowerDelivery", requirement="V2G2-593"),
    "CurrentDemand.Receipt": allowed("MeteringReceipt", requirement="V2G2-795"),
    "ChargingStatus": allowed("ChargingStatus", "PowerDelivery", requirement="V2G2-575"),
    "ChargingStatus.Receipt": allowed("MeteringReceipt", requirement="V2G2-577"),
    "MeteringReceipt.DC": allowed("CurrentDemand", "PowerDelivery", requirement="V2G2-797"),
    "MeteringReceipt.AC": allowed("ChargingStatus", "PowerDelivery", requirement="V2G2-580"),
    "PowerDelivery.Stop.DC": allowed("WeldingDetection", "SessionStop", requirement="V2G2-601"),
    "PowerDelivery.Stop.AC": allowed("SessionStop", requirement="V2G2-568"),
    "PowerDelivery.Renegotiate": allowed("ChargeParameterDiscovery", requirement="V2G2-813"),
    "WeldingDetection": allowed("WeldingDetection", "SessionStop", requirement="V2G2-597"),
    "SessionStop": allowed(requirement="V2G2-571"),
    "Failed": allowed(requirement="V2G2-539"),
}

TABLE = SequenceTable(
    standard=SCHEMA,
    pairs=PAIRS,
    after=AFTER,
    handshake=Pair("SupportedAppProtocol", _msg("supportedAppProtocolReq", 2)),
    communication_setup=V2G_EVCC_CommunicationSetup_Timeout,
    sequence_timeout=V2G_SECC_Sequence_Timeout,
    extra_timers={"cp_detection": V2G_SECC_CPState_Detection_Timeout},
)

CHARGE_SERVICE_NAME = "AC_DC_Charging"  # [V2G2-417] as EVerest uses it


class Iso2(Dialect):
    schema = SCHEMA
    namespace = NAMESPACE
    version = VERSION
    table = TABLE
    payment_pair = "PaymentServiceSelection"
    authorization_pair = "Authorization"
    ac_supported = True

    # ------------------------------------------------------------------ SECC side

    @staticmethod
    def evse_id(configured: str) -> str:
        """ISO-2 EVSEID is a string of 7..37 characters."""
        return configured[:37].ljust(7, "0")

    def ac_evse_status(self, status: EvseStatus) -> dict[str, Any]:
        return {"NotificationMaxDelay": status.max_delay, "EVSENotification": status.notification,
                "RCD": status.rcd}

    def evse_status_element(self, status: EvseStatus, energy: str) -> tuple[str, dict[str, Any]]:
        if energy == "AC":
            return "AC_EVSEStatus", self.ac_evse_status(status)
        return "DC_EVSEStatus", self.dc_evse_status(status)

    def session_setup_res(self, code: str, evse_id: str, timestamp: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"ResponseCode": code, "EVSEID": self.evse_id(evse_id)}
        if timestamp is not None:
            body["EVSETimeStamp"] = timestamp
        return body

    def service_discovery_res(self, code: str, energy_modes: list[str], payment_options: list[str],
                              free: bool) -> dict[str, Any]:
        return {"ResponseCode": code,
                "PaymentOptionList": {"PaymentOption": list(payment_options) or ["ExternalPayment"]},
                "ChargeService": {"ServiceID": 1, "ServiceName": CHARGE_SERVICE_NAME,
                                  "ServiceCategory": "EVCharging", "FreeService": free,
                                  "SupportedEnergyTransferMode": {"EnergyTransferMode": list(energy_modes)}}}

    def service_detail_res(self, code: str, service_id: int) -> dict[str, Any]:
        return {"ResponseCode": code, "ServiceID": service_id}

    def charge_parameter_discovery_res(self, code: str, processing: str, status: EvseStatus, limits: EvseLimits,
                                       energy: str, pmax_w: float, duration: int, tuple_id: int,
                                       schedule: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"ResponseCode": code, "EVSEProcessing": processing}
        if schedule:
            body["SAScheduleList"] = {"SAScheduleTuple": [{
                "SAScheduleTupleID": tuple_id,
                "PMaxSchedule": {"PMaxScheduleEntry": [
                    {"RelativeTimeInterval": {"start": 0, "duration": duration}, "PMax": pv(pmax_w, "W")}]}}]}
        if energy == "AC":
            body["AC_EVSEChargeParameter"] = {"AC_EVSEStatus": self.ac_evse_status(status),
                                              "EVSENominalVoltage": pv(limits.nominal_voltage, "V"),
                                              "EVSEMaxCurrent": pv(limits.max_current, "A")}
        else:
            body["DC_EVSEChargeParameter"] = self.dc_evse_charge_parameter(status, limits)
        return body

    def current_demand_res(self, code: str, status: EvseStatus, voltage: float, current: float,
                           flags: dict[str, bool], limits: EvseLimits, evse_id: str, tuple_id: int,
                           receipt: bool) -> dict[str, Any]:
        body = super().current_demand_res(code, status, voltage, current, flags, limits, evse_id, tuple_id,
                                          receipt)
        body.update({"EVSEID": self.evse_id(evse_id), "SAScheduleTupleID": tuple_id, "ReceiptRequired": receipt})
        return body

    def charging_status_res(self, code: str, status: EvseStatus, evse_id: str, tuple_id: int,
                            max_current: float, meter_wh: int, receipt: bool) -> dict[str, Any]:
        return {"ResponseCode": code, "EVSEID": self.evse_id(evse_id), "SAScheduleTupleID": tuple_id,
                "EVSEMaxCurrent": pv(max_current, "A"),
                "MeterInfo": {"MeterID": "ccs-hil-meter", "MeterReading": int(meter_wh)},
                "ReceiptRequired": receipt, "AC_EVSEStatus": self.ac_evse_status(status)}

    def metering_receipt_res(self, code: str, status: EvseStatus, energy: str) -> dict[str, Any]:
        key, value = self.evse_status_element(status, energy)
        return {"ResponseCode": code, key: value}

    # ------------------------------------------------------------------ EVCC side

    def service_detail_req(self, service_id: int) -> dict[str, Any]:
        return {"ServiceID": service_id}

    def charging_status_req(self) -> dict[str, Any]:
        return {}

    def charge_parameter_discovery_req(self, mode: str, status: EvStatus, limits: EvLimits,
                                       max_entries: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"RequestedEnergyTransferMode": mode}
        if max_entries is not None:
            body["MaxEntriesSAScheduleTuple"] = max_entries
        if mode.startswith("AC"):
            parameter: dict[str, Any] = {"EAmount": pv(limits.energy_request_wh, "Wh"),
                                         "EVMaxVoltage": pv(limits.max_voltage, "V"),
                                         "EVMaxCurrent": pv(limits.max_current, "A"),
                                         "EVMinCurrent": pv(limits.min_current, "A")}
            key = "AC_EVChargeParameter"
        else:
            parameter = {"DC_EVStatus": self.ev_status(status),
                         "EVMaximumCurrentLimit": pv(limits.max_current, "A"),
                         "EVMaximumPowerLimit": pv(limits.max_power, "W"),
                         "EVMaximumVoltageLimit": pv(limits.max_voltage, "V"),
                         "EVEnergyCapacity": pv(limits.capacity_wh, "Wh"),
                         "EVEnergyRequest": pv(limits.energy_request_wh, "Wh"),
                         "FullSOC": int(limits.full_soc), "BulkSOC": int(limits.bulk_soc)}
            key = "DC_EVChargeParameter"
        if limits.departure_time is not None:
            parameter = {"DepartureTime": limits.departure_time, **parameter}
        body[key] = parameter
        return body

    def power_delivery_req(self, progress: str, status: EvStatus, tuple_id: int, profile: list[dict[str, Any]],
                           energy: str, bulk_complete: bool, complete: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"ChargeProgress": progress, "SAScheduleTupleID": tuple_id}
        if profile and progress == "Start":
            body["ChargingProfile"] = {"ProfileEntry": [
                {"ChargingProfileEntryStart": int(e["start"]), "ChargingProfileEntryMaxPower": pv(e["power"], "W")}
                for e in profile]}
        if energy == "DC":
            body["DC_EVPowerDeliveryParameter"] = {"DC_EVStatus": self.ev_status(status),
                                                   "BulkChargingComplete": bulk_complete,
                                                   "ChargingComplete": complete}
        return body

    def session_stop_req(self, reason: str) -> dict[str, Any]:
        return {"ChargingSession": "Pause" if reason == "pause" else "Terminate"}

    def offered_modes(self, response_body: dict[str, Any]) -> list[str]:
        service = response_body.get("ChargeService", {})
        return list(service.get("SupportedEnergyTransferMode", {}).get("EnergyTransferMode", []))

    def offered_payment_options(self, response_body: dict[str, Any]) -> list[str]:
        return list(response_body.get("PaymentOptionList", {}).get("PaymentOption", []))

    def charge_service_id(self, response_body: dict[str, Any]) -> int:
        return int(response_body.get("ChargeService", {}).get("ServiceID", 1))

    def selected_tuple_id(self, response_body: dict[str, Any]) -> tuple[int | None, float | None]:
        try:
            first = response_body["SAScheduleList"]["SAScheduleTuple"][0]
            entry = first["PMaxSchedule"]["PMaxScheduleEntry"][0]
            return int(first["SAScheduleTupleID"]), pv_value(entry["PMax"])
        except (KeyError, IndexError, TypeError, ValueError):
            return None, None


ISO2 = Iso2()
