"""DIN SPEC 70121, car under test: a complete session, the session ID, and what the car selects (payment,
service, energy transfer, charge parameters, schedule, profile). Our charger (the tester) offers DIN only,
ExternalPayment, DC_extended."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dut_role("pev")

DIN_NAMESPACE = "urn:din:70121:2012:MsgDef"
SESSION_PAIRS = ("SessionSetup", "ServiceDiscovery", "ServicePaymentSelection", "ContractAuthentication",
                 "ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery", "CurrentDemand", "SessionStop")


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-DIN-EV-SEQ-01")
@pytest.mark.fails_with("pev-skip-cable-check", "pev-wrong-session-id", "pev-no-state-c")
def test_car_runs_a_complete_din_session(v2g):
    """Against a conforming charger the car runs a complete DIN session, from a handshake offering DIN to
    SessionStopReq, every request where the DIN sequence allows it."""
    v2g.start("din")
    v2g.run_to_end()
    offer = v2g.messages("supportedAppProtocolReq", sender="dut")
    v2g.check(offer and any(p.get("ProtocolNamespace") == DIN_NAMESPACE for p in v2g.body(offer[0])["AppProtocol"]),
              "the car's supportedAppProtocolReq does not offer DIN 70121")
    state = "Start"
    for exchange, reached in v2g.sequence():
        allowed = v2g.table.allowed_after(state) if state != "Start" else {"SupportedAppProtocol"}
        v2g.check(exchange.pair in allowed, f"{exchange.request.name} after {state}", mark=exchange.index)
        state = reached
    seen = {e.pair for e in v2g.exchanges()}
    missing = [p for p in SESSION_PAIRS if p not in seen]
    v2g.check(not missing, f"the session never reached {', '.join(missing)}")
    v2g.assert_no_findings()


@pytest.mark.requirement("V2G-DC-391")
@pytest.mark.fails_with("pev-wrong-session-id")
def test_car_uses_the_assigned_session_id(v2g):
    """Every request after SessionSetup carries the SessionID the charger assigned in SessionSetupRes."""
    v2g.start("din")
    setup = v2g.expect("SessionSetupRes")
    v2g.run_to_end()
    later = v2g.messages(sender="dut", after=setup)
    v2g.check(later, "no request after SessionSetupRes", mark=setup)
    for request in later:
        v2g.check(v2g.session_id(request) == v2g.session_id(setup),
                  f"{request.name} carries SessionID {v2g.session_id(request)}, the charger assigned "
                  f"{v2g.session_id(setup)}", mark=request)


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-DIN-EV-SID-01")
@pytest.mark.fails_with("pev-session-setup-nonzero-id")
def test_new_session_starts_with_session_id_zero(v2g):
    """The car starts a new DIN session with SessionID 0 in its SessionSetupReq."""
    v2g.start("din")
    request = v2g.expect("SessionSetupReq")
    v2g.check((v2g.session_id(request) or "").strip("0") == "",
              f"SessionSetupReq carries SessionID {v2g.session_id(request)}", mark=request)


@pytest.mark.requirement("V2G-DC-395", "V2G-DC-252")
@pytest.mark.fails_with("pev-contract-payment")
def test_car_selects_external_payment(v2g):
    """The car selects ExternalPayment, the only payment option under DIN 70121."""
    v2g.start("din")
    request = v2g.expect("ServicePaymentSelectionReq")
    chosen = v2g.field(request, "SelectedPaymentOption")
    v2g.check(chosen == "ExternalPayment", f"SelectedPaymentOption {chosen}", mark=request)


@pytest.mark.requirement("V2G-DC-396", "V2G-DC-635")
@pytest.mark.fails_with("pev-no-charge-service")
def test_car_selects_exactly_the_offered_charge_service(v2g):
    """The car's SelectedServiceList holds exactly one entry: the charge service the charger offered."""
    v2g.start("din")
    offer = v2g.expect("ServiceDiscoveryRes")
    request = v2g.expect("ServicePaymentSelectionReq")
    offered = v2g.field(offer, "ChargeService.ServiceTag.ServiceID")
    selected = [s.get("ServiceID") for s in v2g.field(request, "SelectedServiceList.SelectedService") or []]
    v2g.check(selected == [offered], f"SelectedServiceList {selected}, the charge service is {offered}", mark=request)


@pytest.mark.requirement("V2G-DC-625", "V2G-DC-397")
@pytest.mark.fails_with("pev-wrong-energy-mode")
def test_car_requests_the_offered_dc_energy_transfer(v2g):
    """The car's EVRequestedEnergyTransferType is DC_extended or DC_core, and the one the charger offered."""
    v2g.start("din")
    offer = v2g.expect("ServiceDiscoveryRes")
    request = v2g.expect("ChargeParameterDiscoveryReq")
    requested = v2g.field(request, "EVRequestedEnergyTransferType")
    offered = v2g.field(offer, "ChargeService.EnergyTransferType")
    v2g.check(requested in ("DC_extended", "DC_core") and requested == offered,
              f"EVRequestedEnergyTransferType {requested}, the charger offered {offered}", mark=request)


@pytest.mark.requirement("V2G-DC-398")
@pytest.mark.fails_with("pev-ac-charge-parameter-din")
def test_car_sends_dc_charge_parameters(v2g):
    """The car's ChargeParameterDiscoveryReq for DC carries DC_EVChargeParameter (and no AC_EVChargeParameter)."""
    v2g.start("din")
    request = v2g.expect("ChargeParameterDiscoveryReq")
    body = v2g.body(request)
    v2g.check("DC_EVChargeParameter" in body and "AC_EVChargeParameter" not in body,
              f"ChargeParameterDiscoveryReq carries {', '.join(k for k in body if 'ChargeParameter' in k)}",
              mark=request)


@pytest.mark.requirement("V2G-DC-400")
@pytest.mark.fails_with("pev-wrong-tuple")
def test_car_names_an_offered_schedule_tuple(v2g):
    """The car's PowerDeliveryReq(ReadyToChargeState=true) names an SAScheduleTupleID the charger offered."""
    v2g.start("din")
    offer = v2g.expect(lambda r: r.name == "ChargeParameterDiscoveryRes" and
                       v2g.field(r, "EVSEProcessing") == "Finished", what="the charger's schedule")
    offered = {t.get("SAScheduleTupleID") for t in v2g.field(offer, "SAScheduleList.SAScheduleTuple") or []}
    request = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and v2g.field(r, "ReadyToChargeState") is True,
                         what="the car asks for power")
    chosen = v2g.field(request, "ChargingProfile.SAScheduleTupleID")
    v2g.check(chosen is None or chosen in offered, f"SAScheduleTupleID {chosen}, offered {sorted(offered)}",
              mark=request)


@pytest.mark.requirement("V2G-DC-399")
@pytest.mark.fails_with("pev-profile-over-pmax")
def test_car_profile_stays_within_the_schedule(v2g):
    """The car's ChargingProfile asks for no more power than the offered PMaxSchedule (our charger offers 20 kW)."""
    v2g.start("din", tester={"pmax_w": 20000})
    request = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and v2g.field(r, "ReadyToChargeState") is True,
                         what="the car asks for power")
    for entry in v2g.field(request, "ChargingProfile.ProfileEntry") or []:
        power = float(entry.get("ChargingProfileEntryMaxPower", 0))
        v2g.check(power <= 20000, f"ChargingProfile entry of {power:g} W above PMax 20000 W", mark=request)
