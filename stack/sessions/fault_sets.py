"""Named DUT faults for `--dut-fault NAME`: `FaultSet`s of `stack.sessions.faults` actions and config changes.

`evse-*` sets make our charger in the DUT seat faulty (our PEV is the tester), `pev-*` sets our car. Each set names
the rule it makes the DUT break (`requirement`); the conformance catalogue (testcases/) declares on each test the
sets that must make it fail (`@pytest.mark.fails_with(...)`), and tests/catalogue proves they do. Add a set here
when a catalogue test needs a DUT that breaks a rule no set breaks yet.
"""

from __future__ import annotations

from typing import Any

from stack.sessions.fault_sets_iso2 import ISO2_SETS
from stack.sessions.faults import Fault, FaultSet


def _f(when: str, action: str, value: Any = None, **kw: Any) -> Fault:
    return Fault(when, action, value, **kw)


_SETS = [
    # ---- a faulty charger (EVSE DUT): our PEV tester must notice
    FaultSet("evse-no-sdp-response", "evse", (_f("SDP.RES", "drop", times=None),), "V2G2-161",
             "never answers SECC Discovery Requests"),
    FaultSet("evse-sdp-tls-only", "evse", (_f("SDP.RES", "set_field", {"security": 0x00}, times=None),),
             "V2G-DC-618", "answers SDP with TLS although no TLS was asked (and DIN forbids it)"),
    FaultSet("evse-sdp-wrong-port", "evse", (_f("SDP.RES", "set_field", {"port": 1}, times=None),), "V2G2-156",
             "announces a TCP port nobody listens on"),
    FaultSet("evse-sap-no-negotiation", "evse",
             (_f("supportedAppProtocolRes", "set_field", {"supportedAppProtocolRes.ResponseCode":
                                                          "Failed_NoNegotiation",
                                                          "supportedAppProtocolRes.SchemaID": None}),),
             "V2G2-172", "refuses the handshake although it supports the offered protocol"),
    FaultSet("evse-session-setup-code", "evse", (_f("SessionSetupRes", "response_code", "OK"),), "V2G-DC-393",
             "answers a new session with OK instead of OK_NewSessionEstablished"),
    FaultSet("evse-session-id-zero", "evse",
             (_f("SessionSetupRes", "set_field", {"Header.SessionID": "0000000000000000"}),), "V2G2-756",
             "assigns the all-zero SessionID"),
    FaultSet("evse-session-id-changes", "evse",
             (_f("ServiceDiscoveryRes", "set_field", {"Header.SessionID": "0badc0ffee000001"}),),
             "ccs-hil:response-session-id", "answers with a SessionID other than the one it assigned"),
    FaultSet("evse-wrong-response", "evse", (_f("ServiceDiscoveryRes", "out_of_sequence", "SessionSetupRes"),),
             "ccs-hil:response-matches-request", "answers ServiceDiscoveryReq with a SessionSetupRes"),
    FaultSet("evse-duplicate-response", "evse", (_f("SessionSetupRes", "duplicate", 2),),
             "ccs-hil:response-matches-request", "sends SessionSetupRes twice (seen in the Ioniq capture)"),
    FaultSet("evse-failed-authorization", "evse", (_f("*Res", "response_code", "FAILED",
                                                      where={"EVSEProcessing": "Finished"}, times=1),),
             "V2G-DC-388", "answers a valid authorization request with FAILED"),
    FaultSet("evse-cable-check-silent", "evse", (_f("CableCheckRes", "silence"),), "V2G_EVCC_Msg_Timeout",
             "stops answering at CableCheck"),
    FaultSet("evse-cable-check-forever", "evse", (), "V2G_EVCC_CableCheck_Timeout",
             "never finishes the insulation test", config={"power": {"isolation_time": 1e9}}),
    FaultSet("evse-isolation-fault", "evse", (), "V2G-DC-418", "the insulation test fails (FAILED + Fault)",
             config={"power": {"isolation_result": "Fault"}}),
    FaultSet("evse-authorization-never", "evse", (), "V2G2-854", "EIM authorization never completes",
             config={"authorization_time": None}),
    FaultSet("evse-precharge-no-voltage", "evse",
             (_f("PreChargeRes", "set_field", {"EVSEPresentVoltage.Value": 0}, times=None),),
             "V2G_EVCC_PreCharge_Timeout", "reports 0 V during PreCharge (never reaches the target)"),
    FaultSet("evse-slow-current-demand", "evse", (_f("CurrentDemandRes", "delay", 0.3, nth=3),),
             "V2G_EVCC_Msg_Timeout", "answers the third CurrentDemandReq after 300 ms (limit 250 ms)"),
    FaultSet("evse-slow-charging-status", "evse", (_f("ChargingStatusRes", "delay", 2.5, nth=3),),
             "V2G_EVCC_Msg_Timeout", "answers the third ChargingStatusReq after 2.5 s (limit 2 s)"),
    FaultSet("evse-close-in-charge-loop", "evse", (_f("CurrentDemandRes", "close", nth=5),),
             "V2G-DC-465", "drops the TCP connection in the charge loop"),
    FaultSet("evse-accepts-sequence-error", "evse",
             (_f("*Res", "response_code", "OK", where={"ResponseCode": "FAILED_SequenceError"}, times=None),),
             "V2G2-538", "answers an out-of-sequence request with OK instead of FAILED_SequenceError"),
    FaultSet("evse-accepts-unknown-session", "evse",
             (_f("*Res", "response_code", "OK", where={"ResponseCode": "FAILED_UnknownSession"}, times=None),),
             "V2G2-460", "answers a request with a foreign SessionID with OK"),
    FaultSet("evse-welding-voltage-stuck", "evse",
             (_f("WeldingDetectionRes", "set_field", {"EVSEPresentVoltage.Value": 400,
                                                      "EVSEPresentVoltage.Multiplier": 0}, times=None),),
             "V2G2-620", "reports full voltage during WeldingDetection (contactor welded)"),
    FaultSet("evse-session-stop-silent", "evse", (_f("SessionStopRes", "drop"),), "V2G-DC-450",
             "does not answer SessionStopReq"),
    # ---- a faulty car (PEV DUT): our EVSE tester must notice
    FaultSet("pev-wrong-session-id", "pev",
             (_f("ServiceDiscoveryReq", "set_field", {"Header.SessionID": "0badc0ffee000002"}),), "V2G2-460",
             "uses a SessionID other than the assigned one"),
    FaultSet("pev-skip-cable-check", "pev", (_f("CableCheckReq", "out_of_sequence", "PreChargeReq"),),
             "V2G-DC-453", "sends PreChargeReq where CableCheckReq is due"),
    FaultSet("pev-skip-session-setup", "pev", (_f("SessionSetupReq", "out_of_sequence", "ServiceDiscoveryReq"),),
             "V2G2-541", "starts with ServiceDiscoveryReq instead of SessionSetupReq"),
    FaultSet("pev-contract-payment", "pev",
             (_f("ServicePaymentSelectionReq", "set_field", {"SelectedPaymentOption": "Contract"}),
              _f("PaymentServiceSelectionReq", "set_field", {"SelectedPaymentOption": "Contract"})),
             "V2G-DC-395", "selects Contract payment, which was not offered"),
    FaultSet("pev-no-charge-service", "pev",
             (_f("PaymentServiceSelectionReq", "set_field",
                 {"SelectedServiceList": {"SelectedService": [{"ServiceID": 7}]}}),
              _f("ServicePaymentSelectionReq", "set_field",
                 {"SelectedServiceList": {"SelectedService": [{"ServiceID": 7}]}})),
             "V2G2-804", "selects a service that is not the charge service"),
    FaultSet("pev-wrong-energy-mode", "pev",
             (_f("ChargeParameterDiscoveryReq", "set_field", {"EVRequestedEnergyTransferType": "AC_single_phase_core"},
                 schema="din"),
              _f("ChargeParameterDiscoveryReq", "set_field", {"RequestedEnergyTransferMode": "DC_unique"},
                 schema="iso2")),
             "V2G2-476", "requests an energy transfer mode that was not offered"),
    FaultSet("pev-wrong-tuple", "pev", (_f("PowerDeliveryReq", "set_field", {"SAScheduleTupleID": 9},
                                           schema="iso2"),
                                        _f("PowerDeliveryReq", "set_field", {"ChargingProfile.SAScheduleTupleID": 9},
                                           schema="din")),
             "V2G2-479", "starts power delivery with a schedule that was not offered"),
    FaultSet("pev-silent-after-precharge", "pev", (_f("PowerDeliveryReq", "silence"),), "V2G2-443",
             "stops sending requests after PreCharge"),
    FaultSet("pev-close-in-charge-loop", "pev", (_f("CurrentDemandReq", "close", nth=5),), "V2G2-593",
             "drops the TCP connection in the charge loop instead of stopping"),
    FaultSet("pev-no-sdp", "pev", (_f("SDP.REQ", "drop", times=None),), "V2G2-139",
             "never sends an SECC Discovery Request"),
    FaultSet("pev-sdp-udp", "pev", (_f("SDP.REQ", "set_field", {"transport": 0x10}, times=None),), "V2G2-623",
             "asks for UDP transport in SDP"),
]


def _accepts(name: str, code: str, requirement: str, what: str) -> FaultSet:
    """A charger that answers OK where the request deserved `code`."""
    return FaultSet(name, "evse", (_f("*Res", "response_code", "OK", where={"ResponseCode": code}, times=None),),
                    requirement, f"answers OK instead of {code} ({what})")


def _kebab(pair: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in pair).lstrip("-")


def _swap(name: str, sent: str, instead: str, requirement: str, nth: int = 1, **kw: Any) -> FaultSet:
    """A car that sends `instead` where `sent` is due (a sequence error)."""
    return FaultSet(name, "pev", (_f(sent, "out_of_sequence", instead, nth=nth, **kw),), requirement,
                    f"sends {instead} where {sent} is due" + (f" (the {nth}. time)" if nth > 1 else ""))


# Sets the conformance catalogue (testcases/) declares with `fails_with(...)`: one per rule a test checks.
_SLOW = ("supportedAppProtocol", "SessionSetup", "ServiceDiscovery", "ServiceDetail", "ServicePaymentSelection",
         "PaymentServiceSelection", "ContractAuthentication", "Authorization", "ChargeParameterDiscovery",
         "CableCheck", "PreCharge", "PowerDelivery", "WeldingDetection", "SessionStop", "MeteringReceipt")
_CATALOGUE_SETS = [FaultSet(f"evse-slow-{_kebab(pair)}", "evse", (_f(f"{pair}Res", "delay", 6.0),), "V2G_EVCC_Msg_Timeout",
                   f"answers the first {pair}Req after 6 s (every DIN/ISO-2 limit is <= 5 s)") for pair in _SLOW]
_CATALOGUE_SETS += [
    _accepts("evse-accepts-invalid-payment", "FAILED_PaymentSelectionInvalid", "V2G-DC-395", "payment not offered"),
    _accepts("evse-accepts-invalid-service", "FAILED_ServiceSelectionInvalid", "V2G-DC-396", "service not offered"),
    _accepts("evse-accepts-wrong-energy-transfer", "FAILED_WrongEnergyTransferType", "V2G-DC-397",
             "energy transfer type not offered"),
    _accepts("evse-accepts-wrong-charge-parameter", "FAILED_WrongChargeParameter", "V2G-DC-398",
             "AC parameters for DC"),
    _accepts("evse-accepts-invalid-profile", "FAILED_ChargingProfileInvalid", "V2G-DC-399", "profile above PMax"),
    _accepts("evse-accepts-unknown-tuple", "FAILED_TariffSelectionInvalid", "V2G-DC-400", "SAScheduleTupleID"),
    _accepts("evse-power-delivery-when-not-ready", "FAILED_PowerDeliveryNotApplied", "V2G-DC-401",
             "PowerDelivery(Start) while not ready"),
    FaultSet("evse-keeps-connection-after-failed", "evse", (), "V2G-DC-665",
             "keeps the TCP connection open after a FAILED_* response", config={"close_on_failed": False}),
    FaultSet("evse-no-sequence-timeout", "evse", (), "V2G-DC-432",
             "waits 1000 s instead of V2G_SECC_Sequence_Timeout for the next request",
             config={"sequence_timeout": 1000.0}),
    FaultSet("evse-ignores-pilot", "evse", (), "V2G-DC-547",
             "runs the insulation test and starts power delivery while the pilot is in B", config={"cp_detection": False}),
    FaultSet("evse-offers-contract-din", "evse",
             (_f("ServiceDiscoveryRes", "set_field", {"PaymentOptions": {"PaymentOption": ["Contract",
                                                                                           "ExternalPayment"]}},
                 schema="din"),), "V2G-DC-252", "offers Contract payment in a DIN session"),
    FaultSet("evse-din-service-name-scope", "evse",
             (_f("ServiceDiscoveryRes", "set_field", {"ChargeService.ServiceTag.ServiceName": "DC charging",
                                                      "ChargeService.ServiceTag.ServiceScope": "public"},
                 schema="din"),), "V2G-DC-628", "sends ServiceName and ServiceScope in a DIN ServiceDiscoveryRes"),
    FaultSet("evse-pmax-13-entries", "evse",
             (_f("ChargeParameterDiscoveryRes", "set_field", {
                 "SAScheduleList.SAScheduleTuple.0.PMaxSchedule.PMaxScheduleEntry": [
                     {"RelativeTimeInterval": {"start": i * 3600, **({"duration": 3600} if i == 12 else {})},
                      "PMax": 20000} for i in range(13)]}, where={"EVSEProcessing": "Finished"}, schema="din"),),
             "V2G-DC-329", "sends a PMaxSchedule of 13 entries"),
    FaultSet("evse-din-sales-tariff", "evse",
             (_f("ChargeParameterDiscoveryRes", "set_field", {"SAScheduleList.SAScheduleTuple.0.SalesTariff": {
                 "Id": "ID1", "SalesTariffID": 1, "NumEPriceLevels": 1, "SalesTariffEntry": [
                     {"RelativeTimeInterval": {"start": 0, "duration": 86400}, "EPriceLevel": 1}]}},
                 where={"EVSEProcessing": "Finished"}, schema="din"),),
             "V2G-DC-554", "sends a SalesTariff in a DIN SAScheduleTuple"),
    FaultSet("evse-current-overshoot", "evse",
             (_f("CurrentDemandRes", "set_field", {"EVSEPresentCurrent.Value": 300, "EVSEPresentCurrent.Multiplier": 0},
                 nth=3, times=None),), "CCSHIL-DIN-CD-02", "delivers 300 A, above the EV's maximum current"),
    FaultSet("evse-current-not-tracking", "evse",
             (_f("CurrentDemandRes", "set_field", {"EVSEPresentCurrent.Value": 1, "EVSEPresentCurrent.Multiplier": 0},
                 times=None),), "CCSHIL-DIN-CD-01", "delivers 1 A whatever the EV asks for"),
    FaultSet("evse-voltage-over-ev-max", "evse",
             (_f("CurrentDemandRes", "set_field", {"EVSEPresentVoltage.Value": 480, "EVSEPresentVoltage.Multiplier": 0},
                 nth=3, times=None),), "CCSHIL-DIN-CD-03", "reports 480 V, above the EV's maximum voltage"),
    FaultSet("evse-exceeds-own-current-limit", "evse",
             (_f("CurrentDemandRes", "set_field", {"EVSEMaximumCurrentLimit.Value": 20,
                                                   "EVSEMaximumCurrentLimit.Multiplier": 0}, nth=3, times=None),),
             "CCSHIL-DIN-CD-04", "announces a 20 A limit while delivering more"),
    FaultSet("evse-precharge-overshoot", "evse",
             (_f("PreChargeRes", "set_field", {"EVSEPresentVoltage.Value": 480, "EVSEPresentVoltage.Multiplier": 0},
                 times=None),), "CCSHIL-DIN-PC-02", "pre-charges to 480 V whatever the EV's target"),
    FaultSet("evse-hides-stop-charging", "evse",
             (_f("CurrentDemandRes", "set_field", {"DC_EVSEStatus.EVSENotification": "None"}, times=None),),
             "CCSHIL-DIN-STOP-02", "never signals EVSENotification=StopCharging"),
    FaultSet("evse-hides-emergency", "evse",
             (_f("*Res", "set_field", {"DC_EVSEStatus.EVSEStatusCode": "EVSE_Ready"},
                 where={"DC_EVSEStatus.EVSEStatusCode": "EVSE_EmergencyShutdown"}, times=None),),
             "CCSHIL-DIN-STOP-03", "reports EVSE_Ready after an emergency shutdown"),
    # ---- a faulty car (PEV DUT)
    FaultSet("pev-ignores-msg-timeout", "pev", (), "V2G_EVCC_Msg_Timeout",
             "waits 1000 times V2G_EVCC_Msg_Timeout for a response", config={"msg_timeout_scale": 1000.0}),
    FaultSet("pev-ignores-loop-timeouts", "pev", (), "V2G_EVCC_CableCheck_Timeout",
             "waits 1000 times the CableCheck/PreCharge/ReadyToCharge/Ongoing timers",
             config={"loop_timeout_scale": 1000.0}),
    FaultSet("pev-retries-after-failed", "pev", (), "CCSHIL-DIN-EV-FAIL-01",
             "repeats a request that was answered with a FAILED_* code", config={"failed_retry": True}),
    FaultSet("pev-no-state-c", "pev", (), "CCSHIL-DIN-EV-CP-01",
             "never switches the pilot to state C (no CP: the simulated car's load stays in B)",
             config={"control_pilot": False}),
    FaultSet("pev-ignores-evse-stop", "pev",
             (_f("PowerDeliveryReq", "out_of_sequence", "CurrentDemandReq", where={"ReadyToChargeState": False},
                 schema="din", times=None),
              _f("PowerDeliveryReq", "out_of_sequence", "CurrentDemandReq", where={"ChargeProgress": "Stop"},
                 schema="iso2", times=None)),
             "CCSHIL-DIN-EV-STOP-01", "goes on with CurrentDemandReq where it should stop (PowerDelivery Stop)"),
    FaultSet("pev-session-setup-nonzero-id", "pev",
             (_f("SessionSetupReq", "set_field", {"Header.SessionID": "0badc0ffee000003"}, schema="din"),),
             "CCSHIL-DIN-EV-SID-01", "starts a new DIN session with a non-zero SessionID"),
    FaultSet("pev-ac-charge-parameter-din", "pev",
             (_f("ChargeParameterDiscoveryReq", "set_field",
                 {"DC_EVChargeParameter": None, "AC_EVChargeParameter": {
                     "DepartureTime": 0, "EAmount": {"Multiplier": 0, "Unit": "Wh", "Value": 20000},
                     "EVMaxVoltage": {"Multiplier": 0, "Unit": "V", "Value": 400},
                     "EVMaxCurrent": {"Multiplier": 0, "Unit": "A", "Value": 16},
                     "EVMinCurrent": {"Multiplier": 0, "Unit": "A", "Value": 6}}}, schema="din"),),
             "V2G-DC-398", "asks for DC with AC charge parameters"),
    FaultSet("pev-profile-over-pmax", "pev",
             (_f("PowerDeliveryReq", "set_field", {"ChargingProfile.ProfileEntry": [
                 {"ChargingProfileEntryStart": 0, "ChargingProfileEntryMaxPower": 32000}]},
                 where={"ReadyToChargeState": True}, schema="din"),),
             "V2G-DC-399", "sends a ChargingProfile of 32 kW whatever the PMaxSchedule allows"),
    FaultSet("pev-precharge-tolerance-ignored", "pev", (), "CCSHIL-DIN-EV-PC-01",
             "starts power delivery after the first PreChargeRes whatever its voltage",
             config={"precharge_tolerance": 1000.0}),
    FaultSet("pev-precharge-current-high", "pev",
             (_f("PreChargeReq", "set_field", {"EVTargetCurrent.Value": 20, "EVTargetCurrent.Multiplier": 0},
                 times=None),), "CCSHIL-DIN-EV-PC-02", "asks for 20 A during PreCharge"),
    FaultSet("pev-target-over-evse-limit", "pev",
             (_f("CurrentDemandReq", "set_field", {"EVTargetCurrent.Value": 400, "EVTargetCurrent.Multiplier": 0},
                 nth=3, times=None),), "CCSHIL-DIN-EV-CD-01", "asks for 400 A whatever the EVSE's current limit"),
    FaultSet("pev-target-over-own-max-voltage", "pev",
             (_f("CurrentDemandReq", "set_field", {"EVTargetVoltage.Value": 450, "EVTargetVoltage.Multiplier": 0},
                 nth=3, times=None),), "CCSHIL-DIN-EV-CD-02", "asks for 450 V, above its own maximum voltage"),
    FaultSet("pev-welding-forever", "pev", (), "CCSHIL-DIN-EV-WELD-01",
             "repeats WeldingDetectionReq for as long as the voltage stays high", config={"welding_max_requests": 100000}),
    _swap("pev-skip-service-discovery", "ServiceDiscoveryReq", "ServicePaymentSelectionReq", "V2G-DC-438",
          schema="din"),
    _swap("pev-skip-payment-selection", "ServicePaymentSelectionReq", "ContractAuthenticationReq", "V2G-DC-441",
          schema="din"),
    _swap("pev-skip-authorization", "ContractAuthenticationReq", "ChargeParameterDiscoveryReq", "V2G-DC-444",
          schema="din"),
    _swap("pev-ignores-authorization-ongoing", "ContractAuthenticationReq", "ChargeParameterDiscoveryReq",
          "V2G-DC-497", nth=2, schema="din"),
    _swap("pev-skip-charge-parameter-discovery", "ChargeParameterDiscoveryReq", "CableCheckReq", "V2G-DC-495"),
    _swap("pev-ignores-charge-parameter-ongoing", "ChargeParameterDiscoveryReq", "CableCheckReq", "V2G-DC-498",
          nth=2),
    _swap("pev-ignores-cable-check-ongoing", "CableCheckReq", "PreChargeReq", "V2G-DC-455", nth=2),
    _swap("pev-skip-precharge", "PreChargeReq", "PowerDeliveryReq", "V2G-DC-499"),
    _swap("pev-skip-power-delivery", "PowerDeliveryReq", "CurrentDemandReq", "V2G-DC-458"),
    _swap("pev-no-current-demand", "CurrentDemandReq", "WeldingDetectionReq", "V2G-DC-462"),
    _swap("pev-session-stop-while-charging", "CurrentDemandReq", "SessionStopReq", "V2G-DC-465", nth=3),
    _swap("pev-current-demand-after-stop", "WeldingDetectionReq", "CurrentDemandReq", "V2G-DC-459"),
    _swap("pev-power-delivery-after-welding", "SessionStopReq", "PowerDeliveryReq", "V2G-DC-469"),
]
# SDP sets of the catalogue (testcases/sdp/); SDP server behaviour that messages cannot express is in
# harness/sim/sdp_faults.py.
_CATALOGUE_SETS += [
    FaultSet("evse-sdp-slow", "evse", (_f("SDP.RES", "delay", 0.3, times=None),), "CCSHIL-SDP-SE-01",
             "answers each SECC Discovery Request 300 ms late (after SDP_REQ)"),
    FaultSet("evse-sdp-wrong-address", "evse", (_f("SDP.RES", "set_field", {"ip": "fe80::dead:beef"}, times=None),),
             "CCSHIL-SDP-SE-02", "announces an IPv6 address that is not its own"),
    FaultSet("evse-sdp-udp-transport", "evse", (_f("SDP.RES", "set_field", {"transport": 0x10}, times=None),),
             "CCSHIL-SDP-SE-05", "announces UDP transport in the SECC Discovery Response"),
    FaultSet("evse-sdp-answers-once", "evse", (_f("SDP.RES", "drop", nth=2, times=None),), "CCSHIL-SDP-SE-06",
             "answers only the first SECC Discovery Request, not a repeated one"),
    FaultSet("evse-sdp-port-15118", "evse", (), "CCSHIL-SDP-SE-03",
             "listens on (and announces) TCP port 15118, outside the dynamic range", config={"tcp_port": 15118}),
    FaultSet("pev-sdp-asks-tls", "pev", (_f("SDP.REQ", "set_field", {"security": 0x00}, times=None),),
             "CCSHIL-SDP-EV-01", "asks for TLS in a DIN session"),
    FaultSet("pev-sdp-retry-burst", "pev", (_f("SDP.REQ", "duplicate", 2, times=None),), "V2G2-159",
             "sends every SECC Discovery Request twice at once"),
    FaultSet("pev-sdp-endless", "pev", (), "V2G2-161", "sends up to 80 SECC Discovery Requests",
             config={"sdp_max_requests": 80}),
]
# Proven by tests/sessions/test_faults.py (our tester notices each in a plain session); the catalogue's sets are
# proven by tests/catalogue (the tests that declare them fail with them).
TESTER_CAUGHT = tuple(s.name for s in _SETS)
FAULT_SETS: dict[str, FaultSet] = {s.name: s for s in (*_SETS, *_CATALOGUE_SETS)}
for _iso2 in ISO2_SETS:  # the ISO 15118-2 catalogue's sets (stack/sessions/fault_sets_iso2.py)
    if _iso2.name in FAULT_SETS:
        raise ValueError(f"fault set {_iso2.name!r} is defined twice")
    FAULT_SETS[_iso2.name] = _iso2


def fault_set(name: str) -> FaultSet:
    try:
        return FAULT_SETS[name]
    except KeyError:
        raise KeyError(f"unknown fault set {name!r}; known: {', '.join(sorted(FAULT_SETS))}") from None
