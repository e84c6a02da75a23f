"""IEC 61851-1 control pilot, vehicle under test: the current the vehicle draws follows the duty the EVSE signals
(basic AC charging).

Precondition on real rigs: as test_vehicle_cp.py, plus a current clamp on the vehicle's supply
(`ev-current-sense`: `power` records `ev current`) and an AC supply our EVSE side switches with the pilot.
"""

from __future__ import annotations

import pytest

from harness.assertions import fail_with_timeline, record_assert
from harness.bench import T_pilot_settle
from harness.records import Record
from stack import cp as iec
from stack.timers import SpecTimer

pytestmark = [pytest.mark.dut_role("pev"), pytest.mark.needs("ev-current-sense")]

# How long the draw may take to settle after the vehicle closed S2 (its on-board charger ramps up).
T_ev_ramp_up = SpecTimer("T_ev_ramp_up", iec.T_EV_follow_duty.seconds,
                         "ccs-hil working value: an on-board charger reaches its current within the 5 s an EV has to "
                         "follow a duty change")
CURRENT_TOLERANCE_A = 0.5  # clamp accuracy and rounding (ccs-hil working value)


def draws(bench) -> list[Record]:
    return [r for r in bench.timeline.records if r.layer == "power" and r.name == "ev current"]


def amps(bench) -> float:
    found = draws(bench)
    return float((found[-1].body or {}).get("amps", 0.0)) if found else 0.0


def charging_at(bench, cp, current: float) -> None:
    """+12 V, the vehicle in B, then PWM offering `current`: the vehicle closes S2 and draws."""
    cp.set_dc()
    bench.expect(lambda: bench.pilot_state == "B", T_pilot_settle, "vehicle connected: pilot in state B")
    cp.set_current(current)
    bench.expect(lambda: bench.pilot_state in ("C", "D"), iec.T_EV_C_after_PWM, "vehicle asks for energy (C/D)")
    bench.expect(lambda: amps(bench) > 0.0, T_ev_ramp_up, "vehicle draws current")
    bench.hold(T_ev_ramp_up, "let the draw settle")


@pytest.mark.requirement("CCSHIL-CP-EV-06")
@pytest.mark.fails_with("ignores-duty-change", "slow-duty-follow")
def test_vehicle_follows_a_lower_duty_within_5s(bench, cp, timeline):
    """When the EVSE lowers the duty the vehicle reduces its current to the new limit within 5 s."""
    charging_at(bench, cp, 16.0)
    lowered = len(timeline)
    cp.set_current(10.0)
    limit = iec.current_for_duty(iec.duty_for_current(10.0)) or 10.0
    bench.wait_for(lambda: amps(bench) <= limit + CURRENT_TOLERANCE_A, iec.T_EV_follow_duty, "vehicle follows")
    now_amps = amps(bench)
    if now_amps > limit + CURRENT_TOLERANCE_A:
        fail_with_timeline(timeline, f"the vehicle still draws {now_amps:g} A {iec.T_EV_follow_duty} after the duty "
                                     f"was lowered to {limit:g} A", mark=lowered)
    record_assert(timeline, "pass", f"vehicle at {now_amps:g} A ≤ {limit:g} A within {iec.T_EV_follow_duty}")


@pytest.mark.requirement("CCSHIL-CP-EV-07")
@pytest.mark.fails_with("overdraw")
def test_vehicle_draws_no_more_than_the_duty_allows(bench, cp, timeline):
    """In C at a nominal duty the vehicle draws no more current than the duty allows."""
    charging_at(bench, cp, 16.0)
    bench.hold(T_pilot_settle, "watch the draw")
    allowed = iec.current_for_duty(iec.duty_for_current(16.0)) or 16.0
    for record in draws(bench):
        value = float((record.body or {}).get("amps", 0.0))
        if value > allowed + CURRENT_TOLERANCE_A:
            index = next(i for i, r in enumerate(timeline.records) if r is record)
            fail_with_timeline(timeline, f"the vehicle draws {value:g} A at a duty that allows {allowed:g} A",
                               mark=index)
    record_assert(timeline, "pass", f"vehicle draw ≤ {allowed:g} A")
