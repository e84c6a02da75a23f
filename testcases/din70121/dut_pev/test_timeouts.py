"""DIN SPEC 70121, car under test: the car's own timers. When a response does not come within its
V2G_EVCC_Msg_Timeout (DIN 70121 Table 75), or a ↻ loop does not finish within its loop timer (Table 77), the
car gives up: it closes the TCP connection and sends nothing more."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.sessions import din70121

pytestmark = pytest.mark.dut_role("pev")


def silent(pair: str):
    name = "supportedAppProtocol" if pair == "SupportedAppProtocol" else pair
    return pytest.param(pair, Fault(f"{name}Res", "drop"), id=pair)


@pytest.mark.requirement("CCSHIL-DIN-EV-TO-01")
@pytest.mark.fails_with("pev-ignores-msg-timeout")
@pytest.mark.parametrize(("pair", "drop"), [silent(p) for p in (
    "SupportedAppProtocol", "SessionSetup", "ServiceDiscovery", "ServicePaymentSelection", "ContractAuthentication",
    "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery", "CurrentDemand", "WeldingDetection",
    "SessionStop")])
def test_car_gives_up_when_a_response_does_not_come(v2g, pair, drop):
    """When our charger does not answer, the car closes the TCP connection once V2G_EVCC_Msg_Timeout of that
    request has run out (+ T_reaction), and sends no further request (our charger keeps the connection open)."""
    v2g.start("din", faults=[drop], keep_open=True)
    v2g.expect(lambda r: r.layer == "state" and r.name == "fault" and r.src == v2g.tester_node.name,
               what=f"our charger leaves a {pair} request unanswered")
    request = v2g.messages(sender="dut")[-1]
    v2g.assert_dut_closes(request, v2g.timeout(pair))
    v2g.assert_no_request_from_dut(request)


def loop(case_id: str, pair: str, timer, tester: dict | None = None, faults: tuple = ()):
    return pytest.param(pair, timer, tester, list(faults), id=case_id)


@pytest.mark.requirement("CCSHIL-DIN-EV-TO-02")
@pytest.mark.fails_with("pev-ignores-loop-timeouts")
@pytest.mark.timeout(300)  # real-time rigs: V2G_EVCC_ReadyToCharge_Timeout alone is 150 s
@pytest.mark.parametrize(("pair", "timer", "tester", "faults"), [
    loop("cable-check", "CableCheck", din70121.V2G_EVCC_CableCheck_Timeout, {"power": {"isolation_time": 1e9}}),
    loop("precharge", "PreCharge", din70121.V2G_EVCC_PreCharge_Timeout,
         faults=(Fault("PreChargeRes", "set_field", {"EVSEPresentVoltage.Value": 0}, times=None),)),
    loop("contract-authentication", "ContractAuthentication", din70121.V2G_EVCC_ReadyToCharge_Timeout,
         {"authorization_time": None}),
    loop("charge-parameter-discovery", "ChargeParameterDiscovery", din70121.V2G_EVCC_ReadyToCharge_Timeout,
         {"charge_parameter_time": 1e9}),
])
def test_car_gives_up_a_loop_that_does_not_finish(v2g, pair, timer, tester, faults):
    """When our charger keeps a ↻ loop going (Ongoing, or PreCharge voltage never reached), the car closes the TCP
    connection once the loop's timer has run out from its first request (+ one V2G_EVCC_Msg_Timeout for the last
    exchange)."""
    v2g.start("din", tester=tester, faults=faults)
    first = v2g.expect(f"{pair}Req")
    v2g.assert_dut_closes(first, timer, allowance=v2g.timeout(pair))
    requests = v2g.messages(f"{pair}Req", sender="dut")
    v2g.check(len(requests) >= 2, f"the car gave up after {len(requests)} {pair}Req: the loop never ran", mark=first)
