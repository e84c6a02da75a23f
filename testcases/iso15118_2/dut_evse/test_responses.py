"""ISO 15118-2, charger under test: the happy path, one message pair at a time. Our car runs a whole EIM session
(DC: through CableCheck, PreCharge, the CurrentDemand loop and WeldingDetection; AC: through the ChargingStatus
loop) and every request of the pair under test must be answered with its own response, a positive ResponseCode,
within V2G_EVCC_Msg_Timeout of that request (ISO 15118-2 Table 109)."""

from __future__ import annotations

import math

import pytest

from ..support import AC, DC, answer

pytestmark = pytest.mark.dut_role("evse")

_POSITIVE = ("OK",)


def case(pair: str, requirement: str, fault: str, protocol: str = DC, tester: dict | None = None,
         codes: tuple[str, ...] = _POSITIVE, case_id: str | None = None):
    return pytest.param(pair, protocol, tester, codes, id=case_id or pair,
                        marks=[pytest.mark.requirement(requirement), pytest.mark.fails_with(fault)])


@pytest.mark.parametrize(("pair", "protocol", "tester", "codes"), [
    case("SupportedAppProtocol", "V2G2-540", "evse-slow-supported-app-protocol",
         codes=("OK_SuccessfulNegotiation", "OK_SuccessfulNegotiationWithMinorDeviation")),
    case("SessionSetup", "V2G2-542", "evse-slow-session-setup", codes=("OK_NewSessionEstablished",)),
    case("ServiceDiscovery", "V2G2-544", "evse-slow-service-discovery"),
    case("ServiceDetail", "V2G2-547", "evse-slow-service-detail", tester={"request_service_detail": True}),
    case("PaymentServiceSelection", "V2G2-550", "evse-slow-payment-service-selection"),
    case("Authorization", "V2G2-562", "evse-slow-authorization"),
    case("ChargeParameterDiscovery", "V2G2-565", "evse-slow-charge-parameter-discovery"),
    case("CableCheck", "V2G2-583", "evse-slow-cable-check"),
    case("PreCharge", "V2G2-586", "evse-slow-pre-charge"),
    case("PowerDelivery", "V2G2-589", "evse-slow-power-delivery"),
    case("CurrentDemand", "V2G2-592", "evse-slow-current-demand"),
    case("WeldingDetection", "V2G2-596", "evse-slow-welding-detection"),
    case("SessionStop", "V2G2-570", "evse-slow-session-stop"),
    case("ChargeParameterDiscovery", "V2G2-565", "evse-slow-charge-parameter-discovery", AC,
         case_id="ac-ChargeParameterDiscovery"),
    case("PowerDelivery", "V2G2-589", "evse-slow-power-delivery", AC, case_id="ac-PowerDelivery"),
    case("ChargingStatus", "CCSHIL-ISO2-AC-01", "evse-slow-charging-status", AC, case_id="ac-ChargingStatus"),
    case("SessionStop", "V2G2-570", "evse-slow-session-stop", AC, case_id="ac-SessionStop"),
])
def test_each_request_of_the_pair_is_answered_in_time(v2g, pair, protocol, tester, codes):
    """The charger answers every request of the pair with that pair's response, a positive ResponseCode, within
    the request's V2G_EVCC_Msg_Timeout."""
    v2g.start(protocol, tester=tester)
    v2g.run_to_end()
    exchanges = v2g.exchanges(pair)
    v2g.check(exchanges, f"our car never got to send a {pair} request (the session ended: "
                         f"{v2g.tester_end_reason()})")
    for exchange in exchanges:
        if not v2g.cut_short(exchange):  # a last request our own car's timer cut off is no evidence
            answer(v2g, exchange.request, codes)


@pytest.mark.requirement("CCSHIL-ISO2-AC-01")
@pytest.mark.fails_with("evse-ac-current-over-ev-max")
def test_ac_charging_status_carries_what_the_car_needs(v2g):
    """In the AC charge loop every ChargingStatusRes carries the EVSEID, the SAScheduleTupleID the car chose in
    PowerDeliveryReq and AC_EVSEStatus; its optional EVSEMaxCurrent, when present, is above 0 A."""
    v2g.start(AC)
    v2g.expect("ChargingStatusRes", nth=3)
    chosen = v2g.field(v2g.messages("PowerDeliveryReq", sender="tester")[0], "SAScheduleTupleID")
    for response in v2g.messages("ChargingStatusRes", sender="dut"):
        v2g.check(v2g.field(response, "EVSEID"), "ChargingStatusRes without EVSEID", mark=response)
        v2g.check(v2g.field(response, "SAScheduleTupleID") == chosen,
                  f"ChargingStatusRes SAScheduleTupleID {v2g.field(response, 'SAScheduleTupleID')}, the car chose "
                  f"{chosen}", mark=response)
        v2g.check(isinstance(v2g.field(response, "AC_EVSEStatus"), dict), "ChargingStatusRes without AC_EVSEStatus",
                  mark=response)
        current = v2g.physical(response, "EVSEMaxCurrent")
        v2g.check(math.isnan(current) or current > 0, f"ChargingStatusRes EVSEMaxCurrent {current:g} A",
                  mark=response)
