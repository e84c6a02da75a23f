"""Complete V2G sessions as message dicts (both directions), used by the Josev cross-check and the benchmark.

DIN: the DC sequence of DIN SPEC 70121 plus the messages a DC session does not use (AC, PnC), so every
message type of the schema appears. ISO 15118-2: a DC session with Plug & Charge (certificate installation,
payment details, signed authorization and metering receipt) and the AC-only messages.
"""

from __future__ import annotations

SID = "4a3b2c1d0e0f1a2b"
EVCCID = "0465650064c3"


def pv(value: int, multiplier: int = 0, unit: str | None = None) -> dict:
    d: dict = {"Multiplier": multiplier, "Value": value}
    if unit is not None:
        d["Unit"] = unit
    return d


def _v2g(body_name: str, body: dict, session: str = SID, header: dict | None = None) -> dict:
    h = {"SessionID": session}
    if header:
        h.update(header)
    return {"V2G_Message": {"Header": h, "Body": {body_name: body}}}


# ------------------------------------------------------------------------------------------------ SAP
SAP_REQ = {
    "supportedAppProtocolReq": {
        "AppProtocol": [
            {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2, "VersionNumberMinor": 0,
             "SchemaID": 1, "Priority": 1},
            {"ProtocolNamespace": "urn:iso:15118:2:2013:MsgDef", "VersionNumberMajor": 2, "VersionNumberMinor": 0,
             "SchemaID": 2, "Priority": 2},
        ]
    }
}
SAP_RES = {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 1}}


# ------------------------------------------------------------------------------------------------ DIN
def _din_ev_status(soc: int = 55, ready: bool = True) -> dict:
    return {"EVReady": ready, "EVCabinConditioning": False, "EVRESSConditioning": False, "EVErrorCode": "NO_ERROR",
            "EVRESSSOC": soc}


def _din_evse_status(code: str = "EVSE_Ready", iso: str | None = "Valid") -> dict:
    d: dict = {"EVSEStatusCode": code, "NotificationMaxDelay": 0, "EVSENotification": "None"}
    if iso:
        d = {"EVSEIsolationStatus": iso, **d}
    return d


def din_session() -> list[tuple[str, dict]]:
    """(direction, message): 'ev' = sent by the car (EVCC), 'evse' = sent by the charger (SECC)."""
    out: list[tuple[str, dict]] = [("ev", SAP_REQ), ("evse", SAP_RES)]

    def ev(name: str, body: dict, sid: str = SID) -> None:
        out.append(("ev", _v2g(name, body, sid)))

    def evse(name: str, body: dict) -> None:
        out.append(("evse", _v2g(name, body)))

    ev("SessionSetupReq", {"EVCCID": EVCCID}, "00")
    evse("SessionSetupRes", {"ResponseCode": "OK_NewSessionEstablished", "EVSEID": "5a5a00000001",
                             "DateTimeNow": 1684960449})
    ev("ServiceDiscoveryReq", {"ServiceCategory": "EVCharging"})
    evse("ServiceDiscoveryRes", {
        "ResponseCode": "OK", "PaymentOptions": {"PaymentOption": ["ExternalPayment"]},
        "ChargeService": {"ServiceTag": {"ServiceID": 1, "ServiceName": "AC_DC_Charging", "ServiceCategory": "EVCharging"},
                          "FreeService": False, "EnergyTransferType": "DC_extended"},
        "ServiceList": {"Service": [{"ServiceTag": {"ServiceID": 2, "ServiceCategory": "Internet",
                                                    "ServiceScope": "https"}, "FreeService": True}]},
    })
    ev("ServiceDetailReq", {"ServiceID": 2})
    evse("ServiceDetailRes", {"ResponseCode": "OK", "ServiceID": 2, "ServiceParameterList": {"ParameterSet": [
        {"ParameterSetID": 1, "Parameter": [
            {"Name": "Protocol", "ValueType": "string", "stringValue": "https"},
            {"Name": "Port", "ValueType": "int", "intValue": 443},
            {"Name": "Limit", "ValueType": "physicalValue", "physicalValue": pv(200, 0, "A")},
            {"Name": "Free", "ValueType": "bool", "boolValue": True},
        ]}]}})
    ev("ServicePaymentSelectionReq", {"SelectedPaymentOption": "ExternalPayment",
                                      "SelectedServiceList": {"SelectedService": [{"ServiceID": 1}]}})
    evse("ServicePaymentSelectionRes", {"ResponseCode": "OK"})
    ev("PaymentDetailsReq", {"ContractID": "DE8AAAB1C2D3E4F5",
                             "ContractSignatureCertChain": {"Certificate": "3082" + "ab" * 40,
                                                            "SubCertificates": {"Certificate": ["3082" + "cd" * 30]}}})
    evse("PaymentDetailsRes", {"ResponseCode": "OK", "GenChallenge": "Q2hhbGxlbmdl", "DateTimeNow": 1684960450})
    ev("ContractAuthenticationReq", {"Id": "ID1", "GenChallenge": "Q2hhbGxlbmdl"})
    evse("ContractAuthenticationRes", {"ResponseCode": "OK", "EVSEProcessing": "Ongoing"})
    ev("ContractAuthenticationReq", {})
    evse("ContractAuthenticationRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished"})
    ev("ChargeParameterDiscoveryReq", {
        "EVRequestedEnergyTransferType": "DC_extended",
        "DC_EVChargeParameter": {
            "DC_EVStatus": _din_ev_status(), "EVMaximumCurrentLimit": pv(2000, -1, "A"),
            "EVMaximumPowerLimit": pv(9800, 1, "W"), "EVMaximumVoltageLimit": pv(4128, -1, "V"),
            "EVEnergyCapacity": pv(28000, 0, "Wh"), "EVEnergyRequest": pv(1820, 0, "Wh"), "FullSOC": 94,
            "BulkSOC": 83}})
    evse("ChargeParameterDiscoveryRes", {
        "ResponseCode": "OK", "EVSEProcessing": "Finished",
        "SAScheduleList": {"SAScheduleTuple": [{
            "SAScheduleTupleID": 1,
            "PMaxSchedule": {"PMaxScheduleID": 1, "PMaxScheduleEntry": [
                {"RelativeTimeInterval": {"start": 0, "duration": 3600}, "PMax": 30000},
                {"RelativeTimeInterval": {"start": 3600}, "PMax": 22000}]},
            "SalesTariff": {"Id": "ST1", "SalesTariffID": 1, "SalesTariffDescription": "flat", "NumEPriceLevels": 1,
                            "SalesTariffEntry": [{"RelativeTimeInterval": {"start": 0}, "EPriceLevel": 1}]}}]},
        "DC_EVSEChargeParameter": {
            "DC_EVSEStatus": _din_evse_status(), "EVSEMaximumCurrentLimit": pv(200, 0, "A"),
            "EVSEMaximumPowerLimit": pv(10, 3, "W"), "EVSEMaximumVoltageLimit": pv(450, 0, "V"),
            "EVSEMinimumCurrentLimit": pv(1, 0, "A"), "EVSEMinimumVoltageLimit": pv(200, 0, "V"),
            "EVSECurrentRegulationTolerance": pv(5, 0, "A"), "EVSEPeakCurrentRipple": pv(2, 0, "A"),
            "EVSEEnergyToBeDelivered": pv(20000, 0, "Wh")}})
    ev("CableCheckReq", {"DC_EVStatus": _din_ev_status()})
    evse("CableCheckRes", {"ResponseCode": "OK", "DC_EVSEStatus": _din_evse_status("EVSE_IsolationMonitoringActive", None),
                           "EVSEProcessing": "Ongoing"})
    ev("CableCheckReq", {"DC_EVStatus": _din_ev_status()})
    evse("CableCheckRes", {"ResponseCode": "OK", "DC_EVSEStatus": _din_evse_status(), "EVSEProcessing": "Finished"})
    for volts in (50, 200, 390):
        ev("PreChargeReq", {"DC_EVStatus": _din_ev_status(), "EVTargetVoltage": pv(3900, -1, "V"),
                            "EVTargetCurrent": pv(10, -1, "A")})
        evse("PreChargeRes", {"ResponseCode": "OK", "DC_EVSEStatus": _din_evse_status(),
                              "EVSEPresentVoltage": pv(volts, 0, "V")})
    ev("PowerDeliveryReq", {"ReadyToChargeState": True,
                            "ChargingProfile": {"SAScheduleTupleID": 1, "ProfileEntry": [
                                {"ChargingProfileEntryStart": 0, "ChargingProfileEntryMaxPower": 5000}]},
                            "DC_EVPowerDeliveryParameter": {"DC_EVStatus": _din_ev_status(), "BulkChargingComplete": False,
                                                            "ChargingComplete": False}})
    evse("PowerDeliveryRes", {"ResponseCode": "OK", "DC_EVSEStatus": _din_evse_status()})
    for i in range(20):
        ev("CurrentDemandReq", {
            "DC_EVStatus": _din_ev_status(55 + i // 4), "EVTargetCurrent": pv(1250, -1, "A"),
            "EVMaximumVoltageLimit": pv(4128, -1, "V"), "EVMaximumCurrentLimit": pv(2000, -1, "A"),
            "EVMaximumPowerLimit": pv(9800, 1, "W"), "BulkChargingComplete": False, "ChargingComplete": i == 19,
            "RemainingTimeToFullSoC": pv(1800 - i, 0, "s"), "RemainingTimeToBulkSoC": pv(1200 - i, 0, "s"),
            "EVTargetVoltage": pv(3900, -1, "V")})
        evse("CurrentDemandRes", {
            "ResponseCode": "OK", "DC_EVSEStatus": _din_evse_status(), "EVSEPresentVoltage": pv(3880 + i, -1, "V"),
            "EVSEPresentCurrent": pv(1240 + i, -1, "A"), "EVSECurrentLimitAchieved": False,
            "EVSEVoltageLimitAchieved": False, "EVSEPowerLimitAchieved": False,
            "EVSEMaximumVoltageLimit": pv(450, 0, "V"), "EVSEMaximumCurrentLimit": pv(200, 0, "A"),
            "EVSEMaximumPowerLimit": pv(10, 3, "W")})
    ev("PowerDeliveryReq", {"ReadyToChargeState": False,
                            "DC_EVPowerDeliveryParameter": {"DC_EVStatus": _din_ev_status(60), "ChargingComplete": True}})
    evse("PowerDeliveryRes", {"ResponseCode": "OK", "DC_EVSEStatus": _din_evse_status("EVSE_NotReady")})
    for volts in (300, 20):
        ev("WeldingDetectionReq", {"DC_EVStatus": _din_ev_status(60)})
        evse("WeldingDetectionRes", {"ResponseCode": "OK", "DC_EVSEStatus": _din_evse_status(),
                                     "EVSEPresentVoltage": pv(volts, 0, "V")})
    ev("SessionStopReq", {})
    evse("SessionStopRes", {"ResponseCode": "OK"})
    # message types a DC session does not use (AC and certificate handling), so every type is covered
    ev("ChargingStatusReq", {})
    evse("ChargingStatusRes", {"ResponseCode": "OK", "EVSEID": "5a5a00000001", "SAScheduleTupleID": 1,
                               "EVSEMaxCurrent": pv(32, 0, "A"),
                               "MeterInfo": {"MeterID": "M1", "MeterReading": pv(1234, 0, "Wh"),
                                             "SigMeterReading": "0102", "MeterStatus": 1, "TMeter": 1684960500},
                               "ReceiptRequired": False,
                               "AC_EVSEStatus": {"PowerSwitchClosed": True, "RCD": False, "NotificationMaxDelay": 0,
                                                 "EVSENotification": "None"}})
    ev("MeteringReceiptReq", {"Id": "MR1", "SessionID": SID, "SAScheduleTupleID": 1,
                              "MeterInfo": {"MeterID": "M1", "MeterReading": pv(1234, 0, "Wh")}})
    ev("MeteringReceiptReq", {"SessionID": SID, "SAScheduleTupleID": 1, "MeterInfo": {"MeterID": "M1", "MeterStatus": 0}})  # no Id
    evse("MeteringReceiptRes", {"ResponseCode": "OK", "AC_EVSEStatus": {
        "PowerSwitchClosed": True, "RCD": False, "NotificationMaxDelay": 0, "EVSENotification": "None"}})
    evse("ChargingStatusRes", {"ResponseCode": "OK", "EVSEID": "5a5a00000001", "SAScheduleTupleID": 1,
                               "ReceiptRequired": True,
                               "AC_EVSEStatus": {"PowerSwitchClosed": True, "RCD": False, "NotificationMaxDelay": 0,
                                                 "EVSENotification": "None"}})
    ev("CertificateInstallationReq", {"Id": "CI1", "OEMProvisioningCert": "3082" + "01" * 50,
                                      "ListOfRootCertificateIDs": {"RootCertificateID": ["V2GRootCA1", "V2GRootCA2"]},
                                      "DHParams": "04" + "aa" * 64})
    evse("CertificateInstallationRes", {"Id": "CI2", "ResponseCode": "OK",
                                        "ContractSignatureCertChain": {"Certificate": "3082" + "02" * 40},
                                        "ContractSignatureEncryptedPrivateKey": "11" * 32, "DHParams": "04" + "bb" * 64,
                                        "ContractID": "DE8AAAB1C2D3E4F5"})
    ev("CertificateUpdateReq", {"Id": "CU1", "ContractSignatureCertChain": {"Certificate": "3082" + "03" * 40},
                                "ContractID": "DE8AAAB1C2D3E4F5",
                                "ListOfRootCertificateIDs": {"RootCertificateID": ["V2GRootCA1"]},
                                "DHParams": "04" + "cc" * 64})
    evse("CertificateUpdateRes", {"Id": "CU2", "ResponseCode": "OK",
                                  "ContractSignatureCertChain": {"Certificate": "3082" + "04" * 40},
                                  "ContractSignatureEncryptedPrivateKey": "22" * 32, "DHParams": "04" + "dd" * 64,
                                  "ContractID": "DE8AAAB1C2D3E4F5", "RetryCounter": 0})
    ev("ChargeParameterDiscoveryReq", {"EVRequestedEnergyTransferType": "AC_three_phase_core",
                                       "AC_EVChargeParameter": {"DepartureTime": 3600, "EAmount": pv(20, 3, "Wh"),
                                                                "EVMaxVoltage": pv(400, 0, "V"),
                                                                "EVMaxCurrent": pv(32, 0, "A"),
                                                                "EVMinCurrent": pv(6, 0, "A")}})
    evse("ChargeParameterDiscoveryRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished",
                                         "SAScheduleList": {"SAScheduleTuple": [{
                                             "SAScheduleTupleID": 1, "PMaxSchedule": {
                                                 "PMaxScheduleID": 1, "PMaxScheduleEntry": [
                                                     {"RelativeTimeInterval": {"start": 0}, "PMax": 11000}]}}]},
                                         "AC_EVSEChargeParameter": {
                                             "AC_EVSEStatus": {"PowerSwitchClosed": False, "RCD": False,
                                                               "NotificationMaxDelay": 0, "EVSENotification": "None"},
                                             "EVSEMaxVoltage": pv(400, 0, "V"), "EVSEMaxCurrent": pv(32, 0, "A"),
                                             "EVSEMinCurrent": pv(6, 0, "A")}})
    return out


# ------------------------------------------------------------------------------------------------ ISO 15118-2
def _iso_dc_ev_status(soc: int = 40) -> dict:
    return {"EVReady": True, "EVErrorCode": "NO_ERROR", "EVRESSSOC": soc}


def _iso_dc_evse_status(code: str = "EVSE_Ready") -> dict:
    return {"NotificationMaxDelay": 0, "EVSENotification": "None", "EVSEIsolationStatus": "Valid",
            "EVSEStatusCode": code}


def _ac_evse_status() -> dict:
    return {"NotificationMaxDelay": 0, "EVSENotification": "None", "RCD": False}


def _signature(ref_id: str) -> dict:
    return {"Signature": {
        "SignedInfo": {
            "CanonicalizationMethod": {"Algorithm": "http://www.w3.org/TR/canonical-exi/"},
            "SignatureMethod": {"Algorithm": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"},
            "Reference": [{"URI": f"#{ref_id}",
                           "Transforms": {"Transform": [{"Algorithm": "http://www.w3.org/TR/canonical-exi/"}]},
                           "DigestMethod": {"Algorithm": "http://www.w3.org/2001/04/xmlenc#sha256"},
                           "DigestValue": "5c" * 32}]},
        "SignatureValue": {"value": "30" * 64}}}


def iso2_session() -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = [("ev", SAP_REQ), ("evse", {"supportedAppProtocolRes": {
        "ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 2}})]

    def ev(name: str, body: dict, sid: str = SID, header: dict | None = None) -> None:
        out.append(("ev", _v2g(name, body, sid, header)))

    def evse(name: str, body: dict, header: dict | None = None) -> None:
        out.append(("evse", _v2g(name, body, SID, header)))

    cert_chain = {"Id": "CC1", "Certificate": "3082" + "0a" * 60,
                  "SubCertificates": {"Certificate": ["3082" + "0b" * 50, "3082" + "0c" * 50]}}
    ev("SessionSetupReq", {"EVCCID": EVCCID}, "00")
    evse("SessionSetupRes", {"ResponseCode": "OK_NewSessionEstablished", "EVSEID": "DE*ABC*E123456*1",
                             "EVSETimeStamp": 1684960449})
    ev("ServiceDiscoveryReq", {"ServiceScope": "charging", "ServiceCategory": "EVCharging"})
    evse("ServiceDiscoveryRes", {
        "ResponseCode": "OK", "PaymentOptionList": {"PaymentOption": ["Contract", "ExternalPayment"]},
        "ChargeService": {"ServiceID": 1, "ServiceName": "Charging", "ServiceCategory": "EVCharging",
                          "FreeService": False,
                          "SupportedEnergyTransferMode": {"EnergyTransferMode": ["DC_extended", "AC_three_phase_core"]}},
        "ServiceList": {"Service": [{"ServiceID": 2, "ServiceCategory": "ContractCertificate", "FreeService": True},
                                    {"ServiceID": 3, "ServiceName": "Internet", "ServiceCategory": "Internet",
                                     "ServiceScope": "http", "FreeService": True}]}})
    ev("ServiceDetailReq", {"ServiceID": 2})
    evse("ServiceDetailRes", {"ResponseCode": "OK", "ServiceID": 2, "ServiceParameterList": {"ParameterSet": [
        {"ParameterSetID": 1, "Parameter": [{"Name": "Service", "stringValue": "Installation"}]},
        {"ParameterSetID": 2, "Parameter": [{"Name": "Service", "stringValue": "Update"},
                                            {"Name": "Port", "intValue": 443},
                                            {"Name": "Flag", "boolValue": True},
                                            {"Name": "B", "byteValue": -5},
                                            {"Name": "S", "shortValue": -300},
                                            {"Name": "P", "physicalValue": pv(11, 3, "W")}]}]}})
    ev("PaymentServiceSelectionReq", {"SelectedPaymentOption": "Contract",
                                      "SelectedServiceList": {"SelectedService": [{"ServiceID": 1},
                                                                                  {"ServiceID": 2, "ParameterSetID": 1}]}})
    evse("PaymentServiceSelectionRes", {"ResponseCode": "OK"})
    ev("CertificateInstallationReq", {"Id": "CIR1", "OEMProvisioningCert": "3082" + "0d" * 80,
                                      "ListOfRootCertificateIDs": {"RootCertificateID": [
                                          {"X509IssuerName": "CN=V2GRootCA", "X509SerialNumber": 12345678901234567890}]}},
       header=_signature("CIR1"))
    evse("CertificateInstallationRes", {
        "ResponseCode": "OK", "SAProvisioningCertificateChain": {"Certificate": "3082" + "0e" * 60},
        "ContractSignatureCertChain": cert_chain,
        "ContractSignatureEncryptedPrivateKey": {"Id": "K1", "value": "ee" * 48},
        "DHpublickey": {"Id": "DH1", "value": "04" + "ab" * 64},
        "eMAID": {"Id": "E1", "value": "DEABCC12345678"}}, header=_signature("K1"))
    ev("PaymentDetailsReq", {"eMAID": "DEABCC12345678", "ContractSignatureCertChain": cert_chain})
    evse("PaymentDetailsRes", {"ResponseCode": "OK", "GenChallenge": "0123456789abcdef0123456789abcdef",
                               "EVSETimeStamp": 1684960450})
    ev("AuthorizationReq", {"Id": "AR1", "GenChallenge": "0123456789abcdef0123456789abcdef"},
       header=_signature("AR1"))
    evse("AuthorizationRes", {"ResponseCode": "OK", "EVSEProcessing": "Ongoing"})
    ev("AuthorizationReq", {})
    evse("AuthorizationRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished"})
    ev("ChargeParameterDiscoveryReq", {
        "MaxEntriesSAScheduleTuple": 12, "RequestedEnergyTransferMode": "DC_extended",
        "DC_EVChargeParameter": {"DepartureTime": 7200, "DC_EVStatus": _iso_dc_ev_status(),
                                 "EVMaximumCurrentLimit": pv(300, 0, "A"), "EVMaximumPowerLimit": pv(150, 3, "W"),
                                 "EVMaximumVoltageLimit": pv(800, 0, "V"), "EVEnergyCapacity": pv(77, 3, "Wh"),
                                 "EVEnergyRequest": pv(40, 3, "Wh"), "FullSOC": 100, "BulkSOC": 80}})
    evse("ChargeParameterDiscoveryRes", {"ResponseCode": "OK", "EVSEProcessing": "Ongoing",
                                         "DC_EVSEChargeParameter": {
                                             "DC_EVSEStatus": _iso_dc_evse_status(),
                                             "EVSEMaximumCurrentLimit": pv(200, 0, "A"),
                                             "EVSEMaximumPowerLimit": pv(100, 3, "W"),
                                             "EVSEMaximumVoltageLimit": pv(920, 0, "V"),
                                             "EVSEMinimumCurrentLimit": pv(0, 0, "A"),
                                             "EVSEMinimumVoltageLimit": pv(150, 0, "V"),
                                             "EVSEPeakCurrentRipple": pv(5, 0, "A")}})
    ev("ChargeParameterDiscoveryReq", {
        "RequestedEnergyTransferMode": "DC_extended",
        "DC_EVChargeParameter": {"DC_EVStatus": _iso_dc_ev_status(), "EVMaximumCurrentLimit": pv(300, 0, "A"),
                                 "EVMaximumVoltageLimit": pv(800, 0, "V")}})
    entries = [{"RelativeTimeInterval": {"start": i * 900}, "PMax": pv(100 - i, 3, "W")} for i in range(8)]
    entries[-1]["RelativeTimeInterval"]["duration"] = 900
    evse("ChargeParameterDiscoveryRes", {
        "ResponseCode": "OK", "EVSEProcessing": "Finished",
        "SAScheduleList": {"SAScheduleTuple": [{
            "SAScheduleTupleID": 1, "PMaxSchedule": {"PMaxScheduleEntry": entries},
            "SalesTariff": {"Id": "ST1", "SalesTariffID": 1, "SalesTariffDescription": "time-of-use",
                            "NumEPriceLevels": 2, "SalesTariffEntry": [
                                {"RelativeTimeInterval": {"start": 0}, "EPriceLevel": 1,
                                 "ConsumptionCost": [{"startValue": pv(0, 0, "Wh"),
                                                      "Cost": [{"costKind": "relativePricePercentage", "amount": 80}]}]},
                                {"RelativeTimeInterval": {"start": 3600, "duration": 3600}, "EPriceLevel": 2}]}}]},
        "DC_EVSEChargeParameter": {"DC_EVSEStatus": _iso_dc_evse_status(), "EVSEMaximumCurrentLimit": pv(200, 0, "A"),
                                   "EVSEMaximumPowerLimit": pv(100, 3, "W"), "EVSEMaximumVoltageLimit": pv(920, 0, "V"),
                                   "EVSEMinimumCurrentLimit": pv(0, 0, "A"), "EVSEMinimumVoltageLimit": pv(150, 0, "V"),
                                   "EVSECurrentRegulationTolerance": pv(1, 0, "A"),
                                   "EVSEPeakCurrentRipple": pv(5, 0, "A"), "EVSEEnergyToBeDelivered": pv(40, 3, "Wh")}},
        header=_signature("ST1"))
    for proc in ("Ongoing", "Finished"):
        ev("CableCheckReq", {"DC_EVStatus": _iso_dc_ev_status()})
        evse("CableCheckRes", {"ResponseCode": "OK", "DC_EVSEStatus": _iso_dc_evse_status(), "EVSEProcessing": proc})
    for volts in (100, 500, 748):
        ev("PreChargeReq", {"DC_EVStatus": _iso_dc_ev_status(), "EVTargetVoltage": pv(750, 0, "V"),
                            "EVTargetCurrent": pv(2, 0, "A")})
        evse("PreChargeRes", {"ResponseCode": "OK", "DC_EVSEStatus": _iso_dc_evse_status(),
                              "EVSEPresentVoltage": pv(volts, 0, "V")})
    ev("PowerDeliveryReq", {"ChargeProgress": "Start", "SAScheduleTupleID": 1,
                            "ChargingProfile": {"ProfileEntry": [
                                {"ChargingProfileEntryStart": 0, "ChargingProfileEntryMaxPower": pv(100, 3, "W"),
                                 "ChargingProfileEntryMaxNumberOfPhasesInUse": 3}]},
                            "DC_EVPowerDeliveryParameter": {"DC_EVStatus": _iso_dc_ev_status(),
                                                            "BulkChargingComplete": False, "ChargingComplete": False}})
    evse("PowerDeliveryRes", {"ResponseCode": "OK", "DC_EVSEStatus": _iso_dc_evse_status()})
    for i in range(20):
        ev("CurrentDemandReq", {
            "DC_EVStatus": _iso_dc_ev_status(40 + i // 2), "EVTargetCurrent": pv(180, 0, "A"),
            "EVMaximumVoltageLimit": pv(800, 0, "V"), "EVMaximumCurrentLimit": pv(300, 0, "A"),
            "EVMaximumPowerLimit": pv(150, 3, "W"), "BulkChargingComplete": False, "ChargingComplete": False,
            "RemainingTimeToFullSoC": pv(3000 - 10 * i, 0, "s"), "RemainingTimeToBulkSoC": pv(2000 - 10 * i, 0, "s"),
            "EVTargetVoltage": pv(760, 0, "V")})
        res = {"ResponseCode": "OK", "DC_EVSEStatus": _iso_dc_evse_status(), "EVSEPresentVoltage": pv(759, 0, "V"),
               "EVSEPresentCurrent": pv(179, 0, "A"), "EVSECurrentLimitAchieved": False,
               "EVSEVoltageLimitAchieved": False, "EVSEPowerLimitAchieved": False,
               "EVSEMaximumVoltageLimit": pv(920, 0, "V"), "EVSEMaximumCurrentLimit": pv(200, 0, "A"),
               "EVSEMaximumPowerLimit": pv(100, 3, "W"), "EVSEID": "DE*ABC*E123456*1", "SAScheduleTupleID": 1}
        if i == 10:
            res.update({"MeterInfo": {"MeterID": "METER-1", "MeterReading": 12000 + i, "SigMeterReading": "5a" * 16,
                                      "MeterStatus": 0, "TMeter": 1684961000}, "ReceiptRequired": True})
        evse("CurrentDemandRes", res)
        if i == 10:
            ev("MeteringReceiptReq", {"Id": "MR1", "SessionID": SID, "SAScheduleTupleID": 1,
                                      "MeterInfo": {"MeterID": "METER-1", "MeterReading": 12010}},
               header=_signature("MR1"))
            evse("MeteringReceiptRes", {"ResponseCode": "OK", "DC_EVSEStatus": _iso_dc_evse_status()})
    ev("PowerDeliveryReq", {"ChargeProgress": "Stop", "SAScheduleTupleID": 1,
                            "DC_EVPowerDeliveryParameter": {"DC_EVStatus": _iso_dc_ev_status(50),
                                                            "ChargingComplete": True}})
    evse("PowerDeliveryRes", {"ResponseCode": "OK", "DC_EVSEStatus": _iso_dc_evse_status("EVSE_NotReady")})
    for volts in (400, 10):
        ev("WeldingDetectionReq", {"DC_EVStatus": _iso_dc_ev_status(50)})
        evse("WeldingDetectionRes", {"ResponseCode": "OK", "DC_EVSEStatus": _iso_dc_evse_status(),
                                     "EVSEPresentVoltage": pv(volts, 0, "V")})
    ev("SessionStopReq", {"ChargingSession": "Terminate"})
    evse("SessionStopRes", {"ResponseCode": "OK"})
    # AC and certificate-update messages, so every message type of the schema is covered
    ev("ChargeParameterDiscoveryReq", {"RequestedEnergyTransferMode": "AC_three_phase_core",
                                       "AC_EVChargeParameter": {"DepartureTime": 3600, "EAmount": pv(20, 3, "Wh"),
                                                                "EVMaxVoltage": pv(400, 0, "V"),
                                                                "EVMaxCurrent": pv(32, 0, "A"),
                                                                "EVMinCurrent": pv(6, 0, "A")}})
    evse("ChargeParameterDiscoveryRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished",
                                         "AC_EVSEChargeParameter": {"AC_EVSEStatus": _ac_evse_status(),
                                                                    "EVSENominalVoltage": pv(230, 0, "V"),
                                                                    "EVSEMaxCurrent": pv(32, 0, "A")}})
    ev("ChargingStatusReq", {})
    evse("ChargingStatusRes", {"ResponseCode": "OK", "EVSEID": "DE*ABC*E123456*1", "SAScheduleTupleID": 1,
                               "EVSEMaxCurrent": pv(32, 0, "A"),
                               "MeterInfo": {"MeterID": "METER-1", "MeterReading": 5000},
                               "ReceiptRequired": False, "AC_EVSEStatus": _ac_evse_status()})
    ev("CertificateUpdateReq", {"Id": "CUR1", "ContractSignatureCertChain": cert_chain, "eMAID": "DEABCC12345678",
                                "ListOfRootCertificateIDs": {"RootCertificateID": [
                                    {"X509IssuerName": "CN=V2GRootCA", "X509SerialNumber": 1}]}},
       header=_signature("CUR1"))
    evse("CertificateUpdateRes", {"ResponseCode": "OK", "SAProvisioningCertificateChain": {"Certificate": "3082" + "0f" * 40},
                                  "ContractSignatureCertChain": cert_chain,
                                  "ContractSignatureEncryptedPrivateKey": {"Id": "K2", "value": "ef" * 48},
                                  "DHpublickey": {"Id": "DH2", "value": "04" + "cd" * 64},
                                  "eMAID": {"Id": "E2", "value": "DEABCC12345678"}, "RetryCounter": 3})
    return out


SESSIONS = {"din": din_session, "iso2": iso2_session}


def schema_of(schema: str, message: dict) -> str:
    """Session lists start with the SAP handshake, which uses the apphand schema."""
    return "apphand" if next(iter(message)).startswith("supportedAppProtocol") else schema
