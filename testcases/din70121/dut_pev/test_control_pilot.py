"""DIN SPEC 70121, car under test: the session and the control pilot."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.dut_role("pev"), pytest.mark.needs("cp-measurement")]


@pytest.mark.requirement("CCSHIL-DIN-EV-CP-01")
@pytest.mark.fails_with("pev-no-state-c")
def test_car_closes_S2_before_cable_check(v2g):
    """The car switches the pilot to state C (or D) after ChargeParameterDiscovery and before its first
    CableCheckReq."""
    v2g.start("din")
    request = v2g.expect("CableCheckReq")
    v2g.check(v2g.pilot_at(request) in ("C", "D"), f"pilot in state {v2g.pilot_at(request)} at the first "
              "CableCheckReq", mark=request)
