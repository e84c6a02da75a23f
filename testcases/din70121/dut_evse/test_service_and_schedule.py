"""DIN SPEC 70121, charger under test: what the charger offers — SDP answer, service, payment, schedule."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dut_role("evse")


@pytest.mark.requirement("V2G-DC-618")
@pytest.mark.fails_with("evse-sdp-tls-only")
def test_sdp_answer_for_din_is_tcp_without_tls(v2g):
    """A DIN charger answers the SECC Discovery Request with transport TCP and security "no TLS"."""
    v2g.start("din")
    answer = v2g.expect("sdp:SDP.RES", what="the charger answers SDP")
    body = answer.body or {}
    v2g.check(body.get("transport") == "TCP" and body.get("security") == "no TLS",
              f"SDP answer: transport {body.get('transport')}, security {body.get('security')}", mark=answer)


@pytest.mark.requirement("V2G-DC-252")
@pytest.mark.fails_with("evse-offers-contract-din")
def test_only_external_payment_is_offered(v2g):
    """Under DIN 70121 the ServiceDiscoveryRes offers ExternalPayment as the only payment option."""
    v2g.start("din")
    response = v2g.expect_response("ServiceDiscovery", code="OK")
    options = v2g.field(response, "PaymentOptions.PaymentOption")
    v2g.check(options == ["ExternalPayment"], f"PaymentOptions {options}", mark=response)


@pytest.mark.requirement("V2G-DC-628", "V2G-DC-629")
@pytest.mark.fails_with("evse-din-service-name-scope")
def test_charge_service_has_no_service_name_or_scope(v2g):
    """Under DIN 70121 the ServiceDiscoveryRes's charge service carries neither ServiceName nor ServiceScope."""
    v2g.start("din")
    response = v2g.expect_response("ServiceDiscovery", code="OK")
    tag = v2g.field(response, "ChargeService.ServiceTag") or {}
    extra = sorted(set(tag) & {"ServiceName", "ServiceScope"})
    v2g.check(not extra, f"ServiceTag carries {', '.join(extra)}", mark=response)


@pytest.mark.requirement("V2G-DC-329")
@pytest.mark.fails_with("evse-pmax-13-entries")
def test_pmax_schedule_has_at_most_12_entries(v2g):
    """Each PMaxSchedule of the ChargeParameterDiscoveryRes holds at most 12 PMaxScheduleEntry elements."""
    v2g.start("din")
    response = v2g.expect(lambda r: r.name == "ChargeParameterDiscoveryRes" and
                          v2g.field(r, "EVSEProcessing") == "Finished", what="the charger's schedule")
    tuples = v2g.field(response, "SAScheduleList.SAScheduleTuple") or []
    v2g.check(tuples, "ChargeParameterDiscoveryRes (Finished) without SAScheduleTuple", mark=response)
    for entry in tuples:
        count = len(entry.get("PMaxSchedule", {}).get("PMaxScheduleEntry", []))
        v2g.check(1 <= count <= 12, f"SAScheduleTuple {entry.get('SAScheduleTupleID')}: {count} PMaxScheduleEntry",
                  mark=response)


@pytest.mark.requirement("V2G-DC-554")
@pytest.mark.fails_with("evse-din-sales-tariff")
def test_schedule_carries_no_sales_tariff(v2g):
    """Under DIN 70121 an SAScheduleTuple carries no SalesTariff."""
    v2g.start("din")
    response = v2g.expect(lambda r: r.name == "ChargeParameterDiscoveryRes" and
                          v2g.field(r, "EVSEProcessing") == "Finished", what="the charger's schedule")
    for entry in v2g.field(response, "SAScheduleList.SAScheduleTuple") or []:
        v2g.check("SalesTariff" not in entry, f"SAScheduleTuple {entry.get('SAScheduleTupleID')} has a SalesTariff",
                  mark=response)


@pytest.mark.smoke
@pytest.mark.requirement("V2G-DC-388")
@pytest.mark.fails_with("evse-failed-authorization", "evse-isolation-fault")
def test_a_complete_session_is_answered_ok_throughout(v2g):
    """Against a conforming car every response of a complete DIN session carries OK (OK_NewSessionEstablished for
    SessionSetup), from the handshake to SessionStopRes."""
    v2g.start("din")
    v2g.run_to_end()
    for response in v2g.messages(sender="dut"):
        expected = {"supportedAppProtocolRes": "OK_SuccessfulNegotiation",
                    "SessionSetupRes": "OK_NewSessionEstablished"}.get(response.name, "OK")
        v2g.check(v2g.code(response) == expected, f"{response.name} {v2g.code(response)}", mark=response)
    v2g.check(v2g.messages("SessionStopRes", sender="dut"), "the session did not reach SessionStopRes")
    v2g.assert_no_findings()
