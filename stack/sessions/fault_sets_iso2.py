"""DUT faults for the ISO 15118-2 part of the conformance catalogue (`testcases/iso15118_2/`), merged into
`stack.sessions.fault_sets.FAULT_SETS` (names must not repeat there).

Each set makes the simulated DUT break one ISO 15118-2 rule that no DIN / generic set breaks; the catalogue test
that declares it (`@pytest.mark.fails_with(...)`) is proven to fail with it by the fault check. `evse-*`: a faulty
charger (our PEV is the tester); `pev-*`: a faulty car (our EVSE is the tester).
"""

from __future__ import annotations

from typing import Any

from stack.sessions.faults import Fault, FaultSet

# A SessionID our car offers in SessionSetupReq that no charger assigned (testcases/iso15118_2 stages it).
UNKNOWN_SESSION_ID = "0badc0ffee00000a"
OTHER_SESSION_ID = "0badc0ffee00000b"


def _f(when: str, action: str, value: Any = None, **kw: Any) -> Fault:
    return Fault(when, action, value, **kw)


def _accepts(name: str, code: str, requirement: str, what: str) -> FaultSet:
    """A charger that answers OK where the request deserved `code`."""
    return FaultSet(name, "evse", (_f("*Res", "response_code", "OK", where={"ResponseCode": code}, times=None),),
                    requirement, f"answers OK instead of {code} ({what})")


def _swap(name: str, sent: str, instead: str, requirement: str, nth: int = 1, **kw: Any) -> FaultSet:
    """A car that sends `instead` where `sent` is due (an ISO-2 sequence error)."""
    return FaultSet(name, "pev", (_f(sent, "out_of_sequence", instead, nth=nth, schema="iso2", **kw),), requirement,
                    f"sends {instead} where {sent} is due" + (f" (the {nth}. time)" if nth > 1 else ""))


_FINISHED = {"EVSEProcessing": "Finished"}

ISO2_SETS = [
    # ---- a faulty charger (EVSE DUT)
    _accepts("evse-accepts-no-charge-service", "FAILED_NoChargeServiceSelected", "V2G2-804",
             "a PaymentServiceSelectionReq without the charge service"),
    _accepts("evse-accepts-unknown-service-id", "FAILED_ServiceIDInvalid", "V2G2-464",
             "a ServiceDetailReq for a ServiceID it did not offer"),
    _accepts("evse-accepts-wrong-energy-mode", "FAILED_WrongEnergyTransferMode", "V2G2-476",
             "a RequestedEnergyTransferMode it did not offer"),
    _accepts("evse-accepts-early-renegotiation", "FAILED", "V2G2-812",
             "PowerDelivery(Renegotiate) before charging started"),
    FaultSet("evse-joins-unknown-session", "evse",
             (_f("SessionSetupRes", "set_field", {"Header.SessionID": UNKNOWN_SESSION_ID,
                                                  "ResponseCode": "OK_OldSessionJoined"}),),
             "V2G2-756", "joins a SessionID it never assigned (OK_OldSessionJoined with the EV's unknown ID)"),
    FaultSet("evse-forgets-paused-session", "evse",
             (_f("SessionSetupRes", "set_field", {"Header.SessionID": OTHER_SESSION_ID,
                                                  "ResponseCode": "OK_NewSessionEstablished"},
                 where={"ResponseCode": "OK_OldSessionJoined"}, times=None),),
             "V2G2-741", "answers the resuming SessionSetupReq with a new session instead of the paused one"),
    FaultSet("evse-refuses-pause", "evse",
             (_f("SessionStopRes", "response_code", "FAILED", where={"ResponseCode": "OK"}),),
             "V2G2-570", "answers SessionStopReq(Pause) with FAILED"),
    FaultSet("evse-refuses-renegotiation", "evse", (_f("PowerDeliveryRes", "response_code", "FAILED", nth=2),),
             "V2G2-812", "answers the EV's PowerDelivery(Renegotiate) from the charge loop with FAILED"),
    FaultSet("evse-refuses-renegotiated-parameters", "evse",
             (_f("ChargeParameterDiscoveryRes", "response_code", "FAILED_SequenceError", nth=2),),
             "V2G2-813", "answers the ChargeParameterDiscoveryReq after PowerDelivery(Renegotiate) with "
             "FAILED_SequenceError"),
    FaultSet("evse-eim-ongoing-without-customer-interaction", "evse",
             (_f("AuthorizationRes", "set_field", {"EVSEProcessing": "Ongoing"},
                 where={"EVSEProcessing": "Ongoing_WaitingForCustomerInteraction"}, times=None),),
             "V2G2-854", "answers EVSEProcessing=Ongoing while EIM waits for the customer"),
    FaultSet("evse-schedule-one-hour", "evse", (), "V2G2-304",
             "offers a PMaxSchedule of one hour when the EV gave no departure time", config={"schedule_duration": 3600}),
    FaultSet("evse-ignores-departure-time", "evse",
             (_f("ChargeParameterDiscoveryRes", "set_field",
                 {"SAScheduleList.SAScheduleTuple.0.PMaxSchedule.PMaxScheduleEntry.0.RelativeTimeInterval.duration":
                  86400}, where=_FINISHED, times=None, schema="iso2"),),
             "V2G2-303", "offers a 24 h PMaxSchedule whatever DepartureTime the EV gave"),
    FaultSet("evse-limits-inverted", "evse",
             (_f("ChargeParameterDiscoveryRes", "set_field",
                 {"DC_EVSEChargeParameter.EVSEMinimumVoltageLimit": {"Multiplier": 0, "Unit": "V", "Value": 900}},
                 where=_FINISHED, times=None, schema="iso2"),),
             "CCSHIL-ISO2-CPD-01", "announces an EVSEMinimumVoltageLimit (900 V) above its maximum"),
    FaultSet("evse-receipt-required-eim", "evse",
             (_f("CurrentDemandRes", "set_field", {"ReceiptRequired": True}, schema="iso2", times=None),
              _f("ChargingStatusRes", "set_field", {"ReceiptRequired": True}, schema="iso2", times=None)),
             "V2G2-691", "asks for a MeteringReceipt (ReceiptRequired=true) in an EIM session"),
    FaultSet("evse-hides-stop-charging-ac", "evse",
             (_f("ChargingStatusRes", "set_field", {"AC_EVSEStatus.EVSENotification": "None"}, times=None),),
             "CCSHIL-ISO2-STOP-01", "never signals EVSENotification=StopCharging in the AC charge loop"),
    FaultSet("evse-hides-renegotiation", "evse",
             (_f("CurrentDemandRes", "set_field", {"DC_EVSEStatus.EVSENotification": "None"},
                 where={"DC_EVSEStatus.EVSENotification": "ReNegotiation"}, times=None),
              _f("ChargingStatusRes", "set_field", {"AC_EVSEStatus.EVSENotification": "None"},
                 where={"AC_EVSEStatus.EVSENotification": "ReNegotiation"}, times=None)),
             "CCSHIL-ISO2-RENEG-01", "never signals the EVSENotification=ReNegotiation it wants"),
    FaultSet("evse-ac-current-over-ev-max", "evse",
             (_f("ChargingStatusRes", "set_field", {"EVSEMaxCurrent": {"Multiplier": 0, "Unit": "A", "Value": 0}},
                 times=None),),
             "CCSHIL-ISO2-AC-01", "announces EVSEMaxCurrent 0 A in the AC charge loop"),
    # ---- a faulty car (PEV DUT)
    _swap("pev-iso2-skip-service-discovery", "ServiceDiscoveryReq", "PaymentServiceSelectionReq", "V2G2-543"),
    _swap("pev-iso2-skip-payment-selection", "PaymentServiceSelectionReq", "AuthorizationReq", "V2G2-545"),
    _swap("pev-iso2-skip-authorization", "AuthorizationReq", "ChargeParameterDiscoveryReq", "V2G2-551"),
    _swap("pev-iso2-ignores-authorization-ongoing", "AuthorizationReq", "ChargeParameterDiscoveryReq", "V2G2-687",
          nth=2),
    _swap("pev-ac-no-charging-status", "ChargingStatusReq", "CurrentDemandReq", "V2G2-576"),
    _swap("pev-ac-session-stop-while-charging", "ChargingStatusReq", "SessionStopReq", "V2G2-575", nth=3),
    _swap("pev-charging-status-after-stop", "SessionStopReq", "ChargingStatusReq", "V2G2-568"),
    _swap("pev-renegotiation-skips-charge-parameters", "ChargeParameterDiscoveryReq", "PowerDeliveryReq", "V2G2-813",
          nth=2),
    FaultSet("pev-stops-without-power-delivery", "pev",
             (_f("PowerDeliveryReq", "out_of_sequence", "SessionStopReq", where={"ChargeProgress": "Stop"},
                 schema="iso2"),),
             "V2G2-527", "ends the charge loop with SessionStopReq instead of PowerDeliveryReq(Stop)"),
    FaultSet("pev-ignores-renegotiation", "pev",
             (_f("PowerDeliveryReq", "drop", where={"ChargeProgress": "Renegotiate"}, schema="iso2", times=None),),
             "V2G2-680", "does not renegotiate when the charger asks (EVSENotification=ReNegotiation)"),
    FaultSet("pev-iso2-profile-over-pmax", "pev",
             (_f("PowerDeliveryReq", "set_field", {"ChargingProfile": {"ProfileEntry": [
                 {"ChargingProfileEntryStart": 0,
                  "ChargingProfileEntryMaxPower": {"Multiplier": 3, "Unit": "W", "Value": 1000}}]}},
                 where={"ChargeProgress": "Start"}, schema="iso2", times=None),),
             "V2G2-293", "sends a ChargingProfile of 1 MW whatever the PMaxSchedule allows"),
    FaultSet("pev-iso2-session-setup-nonzero-id", "pev",
             (_f("SessionSetupReq", "set_field", {"Header.SessionID": OTHER_SESSION_ID}, schema="iso2"),),
             "CCSHIL-ISO2-EV-SID-02", "starts a new ISO-2 session with a non-zero SessionID"),
    FaultSet("pev-forgets-session-on-resume", "pev",
             (_f("SessionSetupReq", "set_field", {"Header.SessionID": "0000000000000000"}, times=None,
                 schema="iso2"),),
             "V2G2-741", "resumes a paused session with SessionID 0 instead of the paused session's ID"),
]
