"""ISO 15118-2, car under test: the car follows the ISO 15118-2 message sequence (§8.8). For each rule, every
response of ours that the rule is about is followed by a request the rule allows (the V2G2-5xx/-6xx rule of each
case). Our charger stretches the ↻ loops where a rule is about them (Authorization, ChargeParameterDiscovery and
CableCheck say Ongoing for a while)."""

from __future__ import annotations

import pytest

from ..support import AC, DC, next_request

pytestmark = pytest.mark.dut_role("pev")

ONGOING_AUTHORIZATION = {"authorization_time": 1.0}
ONGOING_PARAMETERS = {"charge_parameter_time": 1.0}


def request_is(name: str, **fields):
    """An exchange whose request is `name` with these body fields."""
    return lambda v2g, request: request.name == name and all(v2g.field(request, k) == v for k, v in fields.items())


def rule(case_id: str, requirement: str, fault: str, pair: str, allowed: set[str], protocol: str = DC,
         tester: dict | None = None, request=None, finished: bool | None = None):
    return pytest.param(protocol, pair, allowed, tester, request, finished, id=case_id,
                        marks=[pytest.mark.requirement(requirement), pytest.mark.fails_with(fault)])


@pytest.mark.parametrize(("protocol", "pair", "allowed", "tester", "request_filter", "finished"), [
    rule("after-handshake", "V2G2-541", "pev-skip-session-setup", "SupportedAppProtocol", {"SessionSetupReq"}),
    rule("after-session-setup", "V2G2-543", "pev-iso2-skip-service-discovery", "SessionSetup",
         {"ServiceDiscoveryReq", "SessionStopReq"}),
    rule("after-service-discovery", "V2G2-545", "pev-iso2-skip-payment-selection", "ServiceDiscovery",
         {"ServiceDetailReq", "PaymentServiceSelectionReq", "SessionStopReq"}),
    rule("after-payment-selection", "V2G2-551", "pev-iso2-skip-authorization", "PaymentServiceSelection",
         {"AuthorizationReq", "SessionStopReq"}),
    rule("authorization-ongoing", "V2G2-687", "pev-iso2-ignores-authorization-ongoing", "Authorization",
         {"AuthorizationReq"}, tester=ONGOING_AUTHORIZATION, finished=False),
    rule("after-authorization", "V2G2-687", "pev-skip-charge-parameter-discovery", "Authorization",
         {"ChargeParameterDiscoveryReq", "SessionStopReq"}, finished=True),
    rule("ac-authorization-ongoing", "V2G2-573", "pev-iso2-ignores-authorization-ongoing", "Authorization",
         {"AuthorizationReq"}, protocol=AC, tester=ONGOING_AUTHORIZATION, finished=False),
    rule("ac-after-authorization", "V2G2-573", "pev-skip-charge-parameter-discovery", "Authorization",
         {"ChargeParameterDiscoveryReq", "SessionStopReq"}, protocol=AC, finished=True),
    rule("charge-parameters-ongoing", "V2G2-688", "pev-ignores-charge-parameter-ongoing", "ChargeParameterDiscovery",
         {"ChargeParameterDiscoveryReq"}, tester=ONGOING_PARAMETERS, finished=False),
    rule("after-charge-parameters", "V2G2-582", "pev-skip-cable-check", "ChargeParameterDiscovery",
         {"CableCheckReq"}, finished=True),
    rule("cable-check-ongoing", "V2G2-621", "pev-ignores-cable-check-ongoing", "CableCheck", {"CableCheckReq"},
         finished=False),
    rule("after-cable-check", "V2G2-584", "pev-skip-precharge", "CableCheck", {"PreChargeReq"}, finished=True),
    rule("after-precharge", "V2G2-587", "pev-skip-power-delivery", "PreCharge",
         {"PreChargeReq", "PowerDeliveryReq", "SessionStopReq"}),
    rule("after-power-delivery-start", "V2G2-590", "pev-no-current-demand", "PowerDelivery", {"CurrentDemandReq"},
         request=request_is("PowerDeliveryReq", ChargeProgress="Start")),
    rule("in-the-charge-loop", "V2G2-593", "pev-session-stop-while-charging", "CurrentDemand",
         {"CurrentDemandReq", "PowerDeliveryReq"}),
    rule("after-power-delivery-stop", "V2G2-601", "pev-current-demand-after-stop", "PowerDelivery",
         {"WeldingDetectionReq", "SessionStopReq"}, request=request_is("PowerDeliveryReq", ChargeProgress="Stop")),
    rule("in-welding-detection", "V2G2-597", "pev-power-delivery-after-welding", "WeldingDetection",
         {"WeldingDetectionReq", "SessionStopReq"}),
    rule("ac-after-power-delivery-start", "V2G2-576", "pev-ac-no-charging-status", "PowerDelivery",
         {"ChargingStatusReq"}, protocol=AC, request=request_is("PowerDeliveryReq", ChargeProgress="Start")),
    rule("ac-in-the-charge-loop", "V2G2-575", "pev-ac-session-stop-while-charging", "ChargingStatus",
         {"ChargingStatusReq", "PowerDeliveryReq"}, protocol=AC),
    rule("ac-after-power-delivery-stop", "V2G2-568", "pev-charging-status-after-stop", "PowerDelivery",
         {"SessionStopReq"}, protocol=AC, request=request_is("PowerDeliveryReq", ChargeProgress="Stop")),
])
def test_the_car_follows_the_sequence(v2g, protocol, pair, allowed, tester, request_filter, finished):
    """After each response of ours that the rule is about, the car's next request is one the ISO 15118-2 sequence
    allows at that point."""
    v2g.start(protocol, tester=tester)
    v2g.run_to_end()
    checked = 0
    for exchange in v2g.exchanges(pair):
        response = exchange.response
        if response is None or (request_filter is not None and not request_filter(v2g, exchange.request)):
            continue
        if finished is not None and (v2g.field(response, "EVSEProcessing") == "Finished") != finished:
            continue
        later = [r for r in v2g.messages(sender="dut", after=response) if r.name.endswith("Req")]
        if not later:
            continue  # the car ended the session there: not a sequence error
        following = next_request(v2g, response)
        v2g.check(following.name in allowed, f"after {response.name} the car sent {following.name}; allowed: "
                  f"{', '.join(sorted(allowed))}", mark=following)
        checked += 1
    v2g.check(checked, f"the session never reached the point of the rule: no {pair}Res "
                       f"{'' if finished is None else ('(Finished) ' if finished else '(Ongoing) ')}followed by a "
                       f"request of the car (the session ended: {v2g.tester_end_reason()})")
