"""ISO 15118-2, charger under test: the charger's own timer. When the car sends no further request, the charger
ends the session once V2G_SECC_Sequence_Timeout (60 s, Table 110) has run out after its last response
[V2G2-443]: it closes the TCP connection. Our car falls silent (it keeps the connection open) at several points of
the session."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault
from stack.sessions.iso15118_2 import V2G_SECC_Sequence_Timeout

from ..support import AC, DC, assert_dut_closes

pytestmark = pytest.mark.dut_role("evse")


def silent(case_id: str, request: str, nth: int = 1, protocol: str = DC):
    return pytest.param(protocol, Fault(request, "silence", nth=nth), id=case_id)


@pytest.mark.requirement("V2G2-443")
@pytest.mark.fails_with("evse-no-sequence-timeout")
@pytest.mark.parametrize(("protocol", "silence"), [
    silent("after-session-setup", "ServiceDiscoveryReq"),
    silent("in-precharge", "PreChargeReq", nth=2),
    silent("ac-charge-loop", "ChargingStatusReq", nth=3, protocol=AC),
])
def test_the_charger_ends_a_session_the_car_abandons(v2g, protocol, silence):
    """When no request follows its last response, the charger closes the TCP connection once
    V2G_SECC_Sequence_Timeout has run out (+ T_reaction)."""
    v2g.start(protocol, faults=[silence])
    tester = v2g.tester_node.name
    fired = v2g.expect(lambda r: r.layer == "state" and r.name == "fault" and r.src == tester,
                       what=f"our car falls silent instead of sending {silence.when} #{silence.nth}")
    last = [r for r in v2g.messages(sender="dut") if v2g.index(r) < v2g.index(fired)]
    v2g.check(last, "the charger sent nothing before our car fell silent", mark=fired)
    assert_dut_closes(v2g, last[-1], V2G_SECC_Sequence_Timeout)
