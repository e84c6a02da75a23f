"""DIN SPEC 70121, car under test: after a response with a FAILED_* code the car ends the session — it sends no
further request and closes the TCP connection."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.timers import SpecTimer

pytestmark = pytest.mark.dut_role("pev")

T_close_after_failed = SpecTimer("T_close_after_failed", 5.0, "ccs-hil working value (CCSHIL-DIN-EV-FAIL-01): DIN "
                                 "gives no bound; as in the ISO 15118-2 catalogue, the ISO 15118 User Group practice "
                                 "(formal for the SECC in ISO 15118-20 [V2G20-1633]) keeps the connection a few seconds "
                                 "after the session's last message (Josev: 5 s)")


def failed(case_id: str, response: str, code: str = "FAILED", nth: int = 1):
    return pytest.param(Fault(response, "response_code", code, nth=nth), id=case_id)


@pytest.mark.requirement("CCSHIL-DIN-EV-FAIL-01")
@pytest.mark.fails_with("pev-retries-after-failed")
@pytest.mark.parametrize("stage", [
    failed("session-setup", "SessionSetupRes"),
    failed("service-discovery", "ServiceDiscoveryRes"),
    failed("payment-selection", "ServicePaymentSelectionRes", "FAILED_PaymentSelectionInvalid"),
    failed("charge-parameters", "ChargeParameterDiscoveryRes", "FAILED_WrongChargeParameter"),
    failed("cable-check", "CableCheckRes"),
    failed("precharge", "PreChargeRes", nth=2),
    failed("power-delivery", "PowerDeliveryRes", "FAILED_PowerDeliveryNotApplied"),
    failed("current-demand", "CurrentDemandRes", nth=3),
])
def test_car_ends_the_session_after_a_failed_response(v2g, stage):
    """After a FAILED_* response the car sends no further request and closes the TCP connection within
    T_close_after_failed."""
    v2g.start("din", faults=[stage], tester={"close_on_failed": False})
    response = v2g.staged()
    v2g.check(str(v2g.code(response)).startswith("FAILED"), f"staged {response.name} says {v2g.code(response)}",
              mark=response)
    v2g.assert_dut_closes(response, T_close_after_failed)
    v2g.assert_no_request_from_dut(response)
