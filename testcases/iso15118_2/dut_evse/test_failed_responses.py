"""ISO 15118-2, charger under test: each content rule the charger must enforce with its FAILED_* ResponseCode,
and what it does after a FAILED response: it closes the TCP connection [V2G2-539]/[V2G2-034].

Our car sends a request that breaks the rule of each case (a payment option or service that was not offered, an
unknown ServiceID, an energy transfer mode or charge parameters that do not fit, a schedule that was not offered,
a ChargingProfile above PMax, a renegotiation before charging started)."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.timers import SpecTimer

from ..support import AC, DC, answer, assert_dut_closes

pytestmark = pytest.mark.dut_role("evse")

T_close_after_failed = SpecTimer("T_close_after_failed", 5.0, "ccs-hil working value: ISO 15118-2 [V2G2-539]/"
                                 "[V2G2-034] give no bound; the ISO 15118 User Group practice, formal in ISO 15118-20 "
                                 "[V2G20-1633], keeps the connection open a few seconds after the final response so "
                                 "that it gets through (Josev: 5 s)")
AC_PARAMETERS_FOR_DC = {
    "DC_EVChargeParameter": None,
    "AC_EVChargeParameter": {"EAmount": {"Multiplier": 0, "Unit": "Wh", "Value": 20000},
                             "EVMaxVoltage": {"Multiplier": 0, "Unit": "V", "Value": 400},
                             "EVMaxCurrent": {"Multiplier": 0, "Unit": "A", "Value": 16},
                             "EVMinCurrent": {"Multiplier": 0, "Unit": "A", "Value": 6}},
}
ONE_MEGAWATT = {"ProfileEntry": [{"ChargingProfileEntryStart": 0,
                                  "ChargingProfileEntryMaxPower": {"Multiplier": 3, "Unit": "W", "Value": 1000}}]}


def refused(case_id: str, requirement: str, fault: str, stimulus: Fault, codes: tuple[str, ...],
            protocol: str = DC, tester: dict | None = None):
    return pytest.param(protocol, stimulus, codes, tester, id=case_id,
                        marks=[pytest.mark.requirement(requirement), pytest.mark.fails_with(fault)])


PAYMENT_NOT_OFFERED = Fault("PaymentServiceSelectionReq", "set_field", {"SelectedPaymentOption": "Contract"})
UNKNOWN_SERVICE_DETAIL = Fault("ServiceDetailReq", "set_field", {"ServiceID": 7})

CASES = [
    refused("payment-not-offered", "V2G2-465", "evse-accepts-invalid-payment", PAYMENT_NOT_OFFERED,
            ("FAILED_PaymentSelectionInvalid",)),
    # With only the charge service offered, a list without it also names a service that was not offered, so
    # FAILED_ServiceSelectionInvalid (Josev checks that first) is a correct refusal as well.
    refused("no-charge-service", "V2G2-804", "evse-accepts-no-charge-service",
            Fault("PaymentServiceSelectionReq", "set_field",
                  {"SelectedServiceList": {"SelectedService": [{"ServiceID": 7}]}}),
            ("FAILED_NoChargeServiceSelected", "FAILED_ServiceSelectionInvalid")),
    refused("service-not-offered", "V2G2-467", "evse-accepts-invalid-service",
            Fault("PaymentServiceSelectionReq", "set_field",
                  {"SelectedServiceList": {"SelectedService": [{"ServiceID": 1}, {"ServiceID": 7}]}}),
            ("FAILED_ServiceSelectionInvalid",)),
    refused("service-detail-unknown-id", "V2G2-464", "evse-accepts-unknown-service-id", UNKNOWN_SERVICE_DETAIL,
            ("FAILED_ServiceIDInvalid",), tester={"request_service_detail": True}),
    refused("energy-mode-not-offered", "V2G2-476", "evse-accepts-wrong-energy-mode",
            Fault("ChargeParameterDiscoveryReq", "set_field", {"RequestedEnergyTransferMode": "DC_unique"}),
            ("FAILED_WrongEnergyTransferMode",)),
    refused("charge-parameters-do-not-fit", "V2G2-477", "evse-accepts-wrong-charge-parameter",
            Fault("ChargeParameterDiscoveryReq", "set_field", AC_PARAMETERS_FOR_DC),
            ("FAILED_WrongChargeParameter",)),
    refused("schedule-not-offered", "V2G2-479", "evse-accepts-unknown-tuple",
            Fault("PowerDeliveryReq", "set_field", {"SAScheduleTupleID": 9}), ("FAILED_TariffSelectionInvalid",),
            protocol=AC),
    refused("profile-above-pmax", "V2G2-225", "evse-accepts-invalid-profile",
            Fault("PowerDeliveryReq", "set_field", {"ChargingProfile": ONE_MEGAWATT}),
            ("FAILED_ChargingProfileInvalid",), protocol=AC),
]


@pytest.mark.parametrize(("protocol", "stimulus", "codes", "tester"), CASES)
def test_a_request_breaking_a_content_rule_is_refused(v2g, protocol, stimulus, codes, tester):
    """A request that breaks the case's content rule is answered with the rule's FAILED_* ResponseCode."""
    v2g.start(protocol, faults=[stimulus], tester=tester)
    request = v2g.staged()
    answer(v2g, request, codes)


@pytest.mark.requirement("V2G2-812")
@pytest.mark.fails_with("evse-accepts-early-renegotiation")
def test_renegotiation_before_charging_is_refused(v2g):
    """PowerDeliveryReq with ChargeProgress=Renegotiate before charging has started (in place of the first
    PowerDeliveryReq(Start)) is answered with a FAILED ResponseCode."""
    v2g.start(AC, faults=[Fault("PowerDeliveryReq", "set_field", {"ChargeProgress": "Renegotiate"})])
    request = v2g.staged()  # PowerDeliveryReq(Renegotiate) in place of PowerDeliveryReq(Start)
    response = answer(v2g, request)
    v2g.check(str(v2g.code(response)).startswith("FAILED"),
              f"PowerDeliveryRes {v2g.code(response)} to a renegotiation before charging started", mark=response)


def closes(case_id: str, requirement: str, stimulus: Fault, code: str, tester: dict | None = None):
    return pytest.param(stimulus, code, tester, id=case_id, marks=pytest.mark.requirement(requirement))


@pytest.mark.fails_with("evse-keeps-connection-after-failed")
@pytest.mark.parametrize(("stimulus", "code", "tester"), [
    closes("sequence-error", "V2G2-539", Fault("ServiceDiscoveryReq", "out_of_sequence", "PaymentServiceSelectionReq"),
           "FAILED_SequenceError"),
    closes("unknown-session", "V2G2-034", Fault("ServiceDiscoveryReq", "set_field",
                                                 {"Header.SessionID": "0badc0ffee000009"}), "FAILED_UnknownSession"),
    closes("payment-not-offered", "V2G2-034", PAYMENT_NOT_OFFERED, "FAILED_PaymentSelectionInvalid"),
    closes("service-detail-unknown-id", "V2G2-034", UNKNOWN_SERVICE_DETAIL, "FAILED_ServiceIDInvalid",
           {"request_service_detail": True}),
])
def test_the_charger_closes_the_connection_after_a_failed_response(v2g, stimulus, code, tester):
    """After sending a response with a FAILED_* ResponseCode the charger closes the TCP connection (within
    T_close_after_failed + T_reaction; our car keeps it open)."""
    v2g.start(DC, faults=[stimulus], tester=tester, keep_open=True)
    request = v2g.staged()
    response = answer(v2g, request, code)
    assert_dut_closes(v2g, response, T_close_after_failed)
