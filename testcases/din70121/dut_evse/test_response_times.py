"""DIN SPEC 70121, charger under test: every request is answered with its response within the car's
V2G_EVCC_Msg_Timeout for that message (DIN 70121 §9.6.2 Table 75: 2 s, CurrentDemand 250 ms)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dut_role("evse")


def case(pair: str, requirement: str, *faults: str):
    return pytest.param(pair, id=pair, marks=[pytest.mark.requirement(requirement), pytest.mark.fails_with(*faults)])


@pytest.mark.parametrize("pair", [
    case("SupportedAppProtocol", "V2G-DC-436", "evse-slow-supported-app-protocol"),
    case("SessionSetup", "V2G-DC-436", "evse-slow-session-setup"),
    case("ServiceDiscovery", "V2G-DC-440", "evse-slow-service-discovery", "evse-wrong-response"),
    case("ServicePaymentSelection", "V2G-DC-443", "evse-slow-service-payment-selection"),
    case("ContractAuthentication", "V2G-DC-494", "evse-slow-contract-authentication"),
    case("ChargeParameterDiscovery", "V2G-DC-445", "evse-slow-charge-parameter-discovery"),
    case("CableCheck", "V2G-DC-454", "evse-slow-cable-check", "evse-cable-check-silent"),
    case("PreCharge", "V2G-DC-457", "evse-slow-pre-charge"),
    case("PowerDelivery", "V2G-DC-461", "evse-slow-power-delivery"),
    case("CurrentDemand", "V2G-DC-464", "evse-slow-current-demand", "evse-close-in-charge-loop"),
    case("WeldingDetection", "V2G-DC-468", "evse-slow-welding-detection"),
    case("SessionStop", "V2G-DC-450", "evse-slow-session-stop", "evse-session-stop-silent"),
])
def test_charger_answers_each_request_in_time(v2g, pair):
    """The charger answers every request of this pair with the pair's response within V2G_EVCC_Msg_Timeout."""
    v2g.start("din")
    v2g.run_to_end()
    v2g.assert_answered_in_time([pair])
