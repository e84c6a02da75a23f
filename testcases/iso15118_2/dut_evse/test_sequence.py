"""ISO 15118-2, charger under test: a request the ISO 15118-2 message sequence does not allow at that point is
refused with FAILED_SequenceError in a response of the request's own type [V2G2-538], for each rule of the
sequence (§8.8, the V2G2-5xx/-6xx rule of each case).

Our car sends a valid request of the wrong type where the rule allows something else."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault

from ..support import AC, DC, answer

pytestmark = [pytest.mark.dut_role("evse"), pytest.mark.fails_with("evse-accepts-sequence-error")]


def rule(case_id: str, requirement: str, due: str, sent: str, nth: int = 1, protocol: str = DC,
         dut: dict | None = None, codes: tuple[str, ...] = ("FAILED_SequenceError",)):
    return pytest.param(protocol, due, sent, nth, dut, codes, id=case_id,
                        marks=pytest.mark.requirement("V2G2-538", requirement))


@pytest.mark.parametrize(("protocol", "due", "sent", "nth", "dut", "codes"), [
    # before SessionSetup there is no session yet: FAILED_UnknownSession is a refusal too
    rule("after-handshake", "V2G2-541", "SessionSetupReq", "ServiceDiscoveryReq",
         codes=("FAILED_SequenceError", "FAILED_UnknownSession")),
    rule("after-session-setup", "V2G2-543", "ServiceDiscoveryReq", "PaymentServiceSelectionReq"),
    rule("after-service-discovery", "V2G2-545", "PaymentServiceSelectionReq", "AuthorizationReq"),
    rule("after-payment-selection", "V2G2-551", "AuthorizationReq", "ChargeParameterDiscoveryReq"),
    rule("authorization-ongoing", "V2G2-687", "AuthorizationReq", "ChargeParameterDiscoveryReq", nth=2,
         dut={"authorization_time": 1.0}),
    rule("after-authorization", "V2G2-687", "ChargeParameterDiscoveryReq", "CableCheckReq"),
    rule("ac-authorization-ongoing", "V2G2-573", "AuthorizationReq", "ChargeParameterDiscoveryReq", nth=2,
         protocol=AC, dut={"authorization_time": 1.0}),
    rule("ac-after-authorization", "V2G2-573", "ChargeParameterDiscoveryReq", "PowerDeliveryReq", protocol=AC),
    rule("charge-parameters-ongoing", "V2G2-688", "ChargeParameterDiscoveryReq", "CableCheckReq", nth=2,
         dut={"charge_parameter_time": 1.0}),
    rule("after-charge-parameters", "V2G2-582", "CableCheckReq", "PreChargeReq"),
    rule("cable-check-ongoing", "V2G2-621", "CableCheckReq", "PreChargeReq", nth=2),
    rule("after-cable-check", "V2G2-584", "PreChargeReq", "PowerDeliveryReq"),
    rule("after-precharge", "V2G2-587", "PowerDeliveryReq", "CurrentDemandReq"),
    rule("after-power-delivery-start", "V2G2-590", "CurrentDemandReq", "WeldingDetectionReq"),
    rule("in-the-charge-loop", "V2G2-593", "CurrentDemandReq", "WeldingDetectionReq", nth=3),
    rule("after-power-delivery-stop", "V2G2-601", "WeldingDetectionReq", "CurrentDemandReq"),
    rule("in-welding-detection", "V2G2-597", "SessionStopReq", "CurrentDemandReq"),
    rule("ac-after-power-delivery-start", "V2G2-576", "ChargingStatusReq", "CurrentDemandReq", protocol=AC),
    rule("ac-in-the-charge-loop", "V2G2-575", "ChargingStatusReq", "SessionStopReq", nth=3, protocol=AC),
    rule("ac-after-power-delivery-stop", "V2G2-568", "SessionStopReq", "ChargingStatusReq", protocol=AC),
])
def test_request_out_of_sequence_is_refused(v2g, protocol, due, sent, nth, dut, codes):
    """A request the ISO 15118-2 sequence does not allow after the previous exchange is answered with
    FAILED_SequenceError in a response of its own type."""
    v2g.start(protocol, faults=[Fault(due, "out_of_sequence", sent, nth=nth)], dut=dut)
    request = v2g.staged()
    v2g.check(request.name == sent, f"our car sent {request.name}, the staged request was {sent}", mark=request)
    if nth > 1:  # the case needs the loop to be still running when the wrong request comes
        loop = v2g.messages(due.replace("Req", "Res"), sender="dut")
        if not loop or v2g.field(loop[-1], "EVSEProcessing") == "Finished":
            pytest.skip(f"precondition: the charger's last {due[:-3]}Res did not say Ongoing before our {sent}")
    answer(v2g, request, codes)
