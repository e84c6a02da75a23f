"""ISO 15118-2, charger under test: what ChargeParameterDiscoveryRes offers once it says Finished — the period
its schedule covers [V2G2-303]/[V2G2-304] — and the charger's DC limits. (The SAScheduleTupleID range of
[V2G2-773] is not testable on the wire: EXI encodes SAIDType as an offset from 1, so 0 cannot be sent at all.)"""

from __future__ import annotations

import math

import pytest

from ..support import AC, DC, first_response

pytestmark = pytest.mark.dut_role("evse")

DAY_S = 86400
DEPARTURE_S = 7200


def finished_offer(v2g):
    return first_response(v2g, "ChargeParameterDiscoveryRes", where=lambda r: v2g.field(r, "EVSEProcessing") ==
                          "Finished", what="ChargeParameterDiscoveryRes with EVSEProcessing=Finished")


def tuples(v2g, offer) -> list[dict]:
    found = v2g.field(offer, "SAScheduleList.SAScheduleTuple")
    v2g.check(isinstance(found, list) and found, "ChargeParameterDiscoveryRes(Finished) offers no SAScheduleTuple",
              mark=offer)
    return found


def covered_seconds(entries: list[dict]) -> float:
    """Where the PMaxSchedule ends: the latest start + duration (an entry without duration ends where it starts)."""
    ends = []
    for entry in entries:
        interval = entry.get("RelativeTimeInterval") or {}
        ends.append(float(interval.get("start", 0)) + float(interval.get("duration", 0) or 0))
    return max(ends, default=0.0)


@pytest.mark.requirement("V2G2-304")
@pytest.mark.fails_with("evse-schedule-one-hour")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_without_departure_time_the_schedule_covers_a_day(v2g, protocol):
    """When the car gives no DepartureTime, each PMaxSchedule covers at least 24 hours."""
    v2g.start(protocol)
    offer = finished_offer(v2g)
    for entry in tuples(v2g, offer):
        end = covered_seconds(entry.get("PMaxSchedule", {}).get("PMaxScheduleEntry", []))
        v2g.check(end >= DAY_S, f"SAScheduleTuple {entry.get('SAScheduleTupleID')}: PMaxSchedule covers {end:g} s, "
                  f"less than {DAY_S} s", mark=offer)


@pytest.mark.requirement("V2G2-303")
@pytest.mark.fails_with("evse-ignores-departure-time")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_with_departure_time_the_schedule_matches_it(v2g, protocol):
    """When the car gives a DepartureTime (here 2 h), each PMaxSchedule covers exactly that period."""
    v2g.start(protocol, tester={"departure_time": DEPARTURE_S})
    request = v2g.expect("ChargeParameterDiscoveryReq")
    parameter = v2g.field(request, "DC_EVChargeParameter" if protocol == DC else "AC_EVChargeParameter")
    v2g.check(parameter.get("DepartureTime") == DEPARTURE_S, f"our car sent DepartureTime "
              f"{parameter.get('DepartureTime')}", mark=request)
    offer = finished_offer(v2g)
    for entry in tuples(v2g, offer):
        end = covered_seconds(entry.get("PMaxSchedule", {}).get("PMaxScheduleEntry", []))
        v2g.check(end == DEPARTURE_S, f"SAScheduleTuple {entry.get('SAScheduleTupleID')}: PMaxSchedule covers "
                  f"{end:g} s, the car's DepartureTime is {DEPARTURE_S} s", mark=offer)


@pytest.mark.requirement("CCSHIL-ISO2-CPD-01")
@pytest.mark.fails_with("evse-limits-inverted")
def test_dc_limits_are_consistent(v2g):
    """DC_EVSEChargeParameter gives positive maximum current, power and voltage limits, each at least its
    minimum, and an EVSEPeakCurrentRipple that is not negative."""
    v2g.start(DC)
    offer = finished_offer(v2g)
    p = "DC_EVSEChargeParameter."
    for quantity in ("Current", "Voltage"):
        high, low = v2g.physical(offer, f"{p}EVSEMaximum{quantity}Limit"), v2g.physical(offer, f"{p}EVSEMinimum"
                                                                                                f"{quantity}Limit")
        v2g.check(high > 0 and not math.isnan(low) and 0 <= low <= high,
                  f"EVSEMinimum{quantity}Limit {low:g}, EVSEMaximum{quantity}Limit {high:g}", mark=offer)
    power, ripple = v2g.physical(offer, f"{p}EVSEMaximumPowerLimit"), v2g.physical(offer, f"{p}EVSEPeakCurrentRipple")
    v2g.check(power > 0, f"EVSEMaximumPowerLimit {power:g} W", mark=offer)
    v2g.check(ripple >= 0, f"EVSEPeakCurrentRipple {ripple:g} A", mark=offer)
