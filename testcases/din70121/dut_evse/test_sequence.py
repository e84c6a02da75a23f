"""DIN SPEC 70121, charger under test: a request the DIN sequence does not allow at that point is refused with
FAILED_SequenceError [V2G-DC-390], and the charger accepts what the sequence allows (the rule of each case).

Our car sends a valid request of the wrong type where the rule allows something else."""

from __future__ import annotations

import pytest

from harness.catalogue import Fault

pytestmark = [pytest.mark.dut_role("evse"), pytest.mark.fails_with("evse-accepts-sequence-error")]


def rule(case_id: str, requirements: tuple[str, ...], due: str, sent: str, nth: int = 1,
         dut: dict | None = None, codes: tuple[str, ...] = ("FAILED_SequenceError",)):
    return pytest.param(due, sent, nth, dut, codes, id=case_id,
                        marks=pytest.mark.requirement("V2G-DC-390", *requirements))


@pytest.mark.parametrize(("due", "sent", "nth", "dut", "codes"), [
    # before SessionSetup there is no session yet: FAILED_UnknownSession is an answer too
    rule("after-handshake", ("V2G-DC-437",), "SessionSetupReq", "ServiceDiscoveryReq",
         codes=("FAILED_SequenceError", "FAILED_UnknownSession")),
    rule("after-session-setup", ("V2G-DC-438", "V2G-DC-439"), "ServiceDiscoveryReq", "ServicePaymentSelectionReq"),
    rule("after-service-discovery", ("V2G-DC-441",), "ServicePaymentSelectionReq", "ContractAuthenticationReq"),
    rule("after-payment-selection", ("V2G-DC-444",), "ContractAuthenticationReq", "ChargeParameterDiscoveryReq"),
    rule("authorization-ongoing", ("V2G-DC-497",), "ContractAuthenticationReq", "ChargeParameterDiscoveryReq", nth=2,
         dut={"authorization_time": 1.0}),
    rule("after-authorization", ("V2G-DC-495",), "ChargeParameterDiscoveryReq", "CableCheckReq"),
    rule("charge-parameters-ongoing", ("V2G-DC-498",), "ChargeParameterDiscoveryReq", "CableCheckReq", nth=2,
         dut={"charge_parameter_time": 1.0}),
    rule("after-charge-parameters", ("V2G-DC-453",), "CableCheckReq", "PreChargeReq"),
    rule("cable-check-ongoing", ("V2G-DC-455", "V2G-DC-418"), "CableCheckReq", "PreChargeReq", nth=2),
    rule("after-cable-check", ("V2G-DC-499",), "PreChargeReq", "PowerDeliveryReq"),
    rule("after-precharge", ("V2G-DC-458",), "PowerDeliveryReq", "CurrentDemandReq"),
    rule("after-power-delivery-start", ("V2G-DC-462",), "CurrentDemandReq", "WeldingDetectionReq"),
    rule("in-the-charge-loop", ("V2G-DC-465",), "CurrentDemandReq", "WeldingDetectionReq", nth=3),
    rule("after-power-delivery-stop", ("V2G-DC-459",), "WeldingDetectionReq", "CurrentDemandReq"),
    rule("in-welding-detection", ("V2G-DC-469",), "SessionStopReq", "CurrentDemandReq"),
])
def test_request_out_of_sequence_is_refused(v2g, due, sent, nth, dut, codes):
    """A request the DIN sequence does not allow after the previous exchange is answered FAILED_SequenceError."""
    v2g.start("din", faults=[Fault(due, "out_of_sequence", sent, nth=nth)], dut=dut)
    request = v2g.staged()
    v2g.check(request.name == sent, f"our car sent {request.name}, the staged request was {sent}", mark=request)
    if nth > 1:  # the case needs the loop to be still running when the wrong request comes
        before = v2g.messages(due.replace("Req", "Res"), sender="dut")[-1]
        if v2g.field(before, "EVSEProcessing") == "Finished":
            pytest.skip(f"precondition: the charger's {before.name} said Finished before our {sent}")
    v2g.expect_answer(request, code=codes)
