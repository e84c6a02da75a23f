"""ISO 15118-2, car under test: the car's reaction to a FAILED_* ResponseCode. Whatever the request, a response
that says FAILED ends the session for the car: it sends no further request on that connection (not even the same
request again) and closes the TCP connection. Our charger answers one request of each case with a FAILED code and
otherwise keeps the connection open."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.timers import SpecTimer

from ..support import AC, DC, assert_dut_closes

pytestmark = [pytest.mark.dut_role("pev"), pytest.mark.requirement("CCSHIL-ISO2-EV-FAIL-01"),
              pytest.mark.fails_with("pev-retries-after-failed")]

T_close_after_failed = SpecTimer("T_close_after_failed", 5.0, "ccs-hil working value: ISO 15118-2 gives no bound; "
                                 "the ISO 15118 User Group practice (formal for the SECC in ISO 15118-20 [V2G20-1633]) "
                                 "keeps the connection a few seconds after the session's last message (Josev: 5 s)")


def failed(pair: str, code: str = "FAILED", nth: int = 1, protocol: str = DC):
    prefix = "ac-" if protocol == AC else ""
    return pytest.param(protocol, Fault(f"{pair}Res", "response_code", code, nth=nth), id=f"{prefix}{pair}-{code}")


@pytest.mark.parametrize(("protocol", "refusal"), [
    failed("SessionSetup"),
    failed("ServiceDiscovery"),
    failed("PaymentServiceSelection", "FAILED_PaymentSelectionInvalid"),
    failed("Authorization"),
    failed("ChargeParameterDiscovery", "FAILED_WrongChargeParameter"),
    failed("CableCheck"),
    failed("PreCharge"),
    failed("PowerDelivery", "FAILED_PowerDeliveryNotApplied"),
    failed("CurrentDemand", nth=3),
    failed("WeldingDetection"),
    failed("ChargingStatus", nth=3, protocol=AC),
    failed("PowerDelivery", "FAILED_TariffSelectionInvalid", protocol=AC),
])
def test_the_car_ends_the_session_after_a_failed_response(v2g, protocol, refusal):
    """After a response with a FAILED_* ResponseCode the car sends no further request and closes the TCP connection
    within T_close_after_failed (+ T_reaction)."""
    v2g.start(protocol, faults=[refusal], keep_open=True)
    fired = v2g.expect(lambda r: r.layer == "state" and r.name == "fault" and r.src == v2g.tester_node.name,
                       what=f"our charger answers {refusal.when} #{refusal.nth} with {refusal.value}")
    response = v2g.expect(lambda r: r.layer == "exi" and r.dir == "to_dut", after=v2g.index(fired),
                          what=f"our {refusal.when} with {refusal.value}")
    assert_dut_closes(v2g, response, T_close_after_failed)
    v2g.assert_no_request_from_dut(response)
