"""DIN SPEC 70121, car under test: the session and the control pilot."""

from __future__ import annotations

import pytest

from harness.bench import T_pilot_settle

pytestmark = [pytest.mark.dut_role("pev"), pytest.mark.needs("cp-measurement")]


def closed_s2(record) -> bool:
    return record.layer == "cp" and record.src == "cp" and (record.body or {}).get("state") in ("C", "D")


@pytest.mark.requirement("CCSHIL-DIN-EV-CP-01")
@pytest.mark.fails_with("pev-no-state-c")
def test_car_closes_S2_before_cable_check(v2g):
    """The car switches the pilot to state C (or D) after ChargeParameterDiscovery and before its first
    CableCheckReq (as measured: within T_pilot_settle of it, the measurement's own delay)."""
    v2g.start("din")
    request = v2g.expect("CableCheckReq")
    if v2g.pilot_at(request) not in ("C", "D"):
        seen = v2g.run_until(closed_s2, T_pilot_settle, after=v2g.index(request),
                             what="the measured pilot shows C/D")
        v2g.check(seen is not None, f"pilot in state {v2g.pilot_at(request)} at the first CableCheckReq and not C/D "
                  f"within {T_pilot_settle}", mark=request)
