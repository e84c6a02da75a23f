"""DIN SPEC 70121, car under test: wherever the session is, the car's next request is one the DIN sequence allows
there (one case per rule of the sequence table, stack/sessions/din70121.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dut_role("pev")


def rule(case_id: str, requirements: tuple[str, ...], state: str, fault: str, tester: dict | None = None):
    return pytest.param(state, tester, id=case_id,
                        marks=[pytest.mark.requirement(*requirements), pytest.mark.fails_with(fault)])


@pytest.mark.parametrize(("state", "tester"), [
    rule("after-handshake", ("V2G-DC-437",), "SupportedAppProtocol", "pev-skip-session-setup"),
    rule("after-session-setup", ("V2G-DC-438", "V2G-DC-439"), "SessionSetup", "pev-skip-service-discovery"),
    rule("after-service-discovery", ("V2G-DC-441",), "ServiceDiscovery", "pev-skip-payment-selection"),
    rule("after-payment-selection", ("V2G-DC-444",), "ServicePaymentSelection", "pev-skip-authorization"),
    rule("authorization-ongoing", ("V2G-DC-497",), "ContractAuthentication.Ongoing",
         "pev-ignores-authorization-ongoing", {"authorization_time": 0.5}),
    rule("after-authorization", ("V2G-DC-495",), "ContractAuthentication.Finished",
         "pev-skip-charge-parameter-discovery"),
    rule("charge-parameters-ongoing", ("V2G-DC-498",), "ChargeParameterDiscovery.Ongoing",
         "pev-ignores-charge-parameter-ongoing", {"charge_parameter_time": 0.5}),
    rule("after-charge-parameters", ("V2G-DC-453",), "ChargeParameterDiscovery.Finished", "pev-skip-cable-check"),
    rule("cable-check-ongoing", ("V2G-DC-455", "V2G-DC-418"), "CableCheck.Ongoing", "pev-ignores-cable-check-ongoing"),
    rule("after-cable-check", ("V2G-DC-499",), "CableCheck.Finished", "pev-skip-precharge"),
    rule("after-precharge", ("V2G-DC-458",), "PreCharge", "pev-skip-power-delivery"),
    rule("after-power-delivery-start", ("V2G-DC-462",), "PowerDelivery.Start", "pev-no-current-demand"),
    rule("in-the-charge-loop", ("V2G-DC-465",), "CurrentDemand", "pev-session-stop-while-charging"),
    rule("after-power-delivery-stop", ("V2G-DC-459",), "PowerDelivery.Stop", "pev-current-demand-after-stop"),
    rule("in-welding-detection", ("V2G-DC-469",), "WeldingDetection", "pev-power-delivery-after-welding"),
])
def test_car_sends_what_the_sequence_allows(v2g, state, tester):
    """After each exchange the car's next request is one the DIN sequence table allows after it."""
    v2g.start("din", tester=tester)
    v2g.assert_requests_follow(state)
