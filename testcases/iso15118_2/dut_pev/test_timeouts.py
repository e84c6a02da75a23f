"""ISO 15118-2, car under test: the car's own timers. When a response does not come within its
V2G_EVCC_Msg_Timeout (Table 109), or a ↻ loop does not finish within its loop timer (Table 110:
V2G_EVCC_CableCheck_Timeout, V2G_EVCC_PreCharge_Timeout, V2G_EVCC_Ongoing_Timeout), the car gives up: it closes
the TCP connection and sends nothing more."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.sessions import iso15118_2

from ..support import AC, DC, assert_dut_closes

pytestmark = pytest.mark.dut_role("pev")


def silent(pair: str, protocol: str = DC, nth: int = 1):
    name = "supportedAppProtocol" if pair == "SupportedAppProtocol" else pair
    prefix = "ac-" if protocol == AC else ""
    return pytest.param(protocol, pair, Fault(f"{name}Res", "drop", nth=nth), id=prefix + pair)


@pytest.mark.requirement("CCSHIL-ISO2-EV-TO-01")
@pytest.mark.fails_with("pev-ignores-msg-timeout")
@pytest.mark.parametrize(("protocol", "pair", "drop"), [
    *(silent(p) for p in ("SupportedAppProtocol", "SessionSetup", "ServiceDiscovery", "PaymentServiceSelection",
                          "Authorization", "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery")),
    silent("CurrentDemand", nth=3),
    silent("WeldingDetection"),
    silent("SessionStop"),
    silent("PowerDelivery", AC),
    silent("ChargingStatus", AC, nth=3),
])
def test_car_gives_up_when_a_response_does_not_come(v2g, protocol, pair, drop):
    """When our charger does not answer, the car closes the TCP connection once V2G_EVCC_Msg_Timeout of that
    request has run out (+ T_reaction), and sends no further request (our charger keeps the connection open)."""
    v2g.start(protocol, faults=[drop], keep_open=True)
    fired = v2g.expect(lambda r: r.layer == "state" and r.name == "fault" and r.src == v2g.tester_node.name,
                       what=f"our charger leaves {pair} request #{drop.nth} unanswered")
    request = [r for r in v2g.messages(sender="dut") if v2g.index(r) < v2g.index(fired)][-1]
    assert_dut_closes(v2g, request, v2g.timeout(pair))
    v2g.assert_no_request_from_dut(request)


def loop(case_id: str, pair: str, timer, tester: dict | None = None, faults: tuple = (), protocol: str = DC):
    return pytest.param(protocol, pair, timer, tester, list(faults), id=case_id)


@pytest.mark.requirement("CCSHIL-ISO2-EV-TO-02")
@pytest.mark.fails_with("pev-ignores-loop-timeouts")
@pytest.mark.parametrize(("protocol", "pair", "timer", "tester", "faults"), [
    loop("cable-check", "CableCheck", iso15118_2.V2G_EVCC_CableCheck_Timeout, {"power": {"isolation_time": 1e9}}),
    loop("precharge", "PreCharge", iso15118_2.V2G_EVCC_PreCharge_Timeout,
         faults=(Fault("PreChargeRes", "set_field", {"EVSEPresentVoltage.Value": 0}, times=None),)),
    loop("authorization", "Authorization", iso15118_2.V2G_EVCC_Ongoing_Timeout, {"authorization_time": None}),
    loop("charge-parameter-discovery", "ChargeParameterDiscovery", iso15118_2.V2G_EVCC_Ongoing_Timeout,
         {"charge_parameter_time": 1e9}),
    loop("ac-authorization", "Authorization", iso15118_2.V2G_EVCC_Ongoing_Timeout, {"authorization_time": None},
         protocol=AC),
])
def test_car_gives_up_a_loop_that_does_not_finish(v2g, protocol, pair, timer, tester, faults):
    """When our charger keeps a ↻ loop going (Ongoing, or a PreCharge voltage never reached), the car sends nothing
    but the loop's request and closes the TCP connection once the loop's timer has run out from its first request
    (+ one V2G_EVCC_Msg_Timeout for the last exchange)."""
    v2g.start(protocol, tester=tester, faults=faults)
    first = v2g.expect(f"{pair}Req")
    assert_dut_closes(v2g, first, timer, allowance=v2g.timeout(pair))
    v2g.assert_no_request_from_dut(first, allowed={f"{pair}Req"})
    requests = v2g.messages(f"{pair}Req", sender="dut")
    v2g.check(len(requests) >= 2, f"the car gave up after {len(requests)} {pair}Req: the loop never ran", mark=first)
