"""ISO 15118-2, car under test: the session the car sets up — its SessionID handling (0 for a new session, then
the assigned one in every request; the paused one when it resumes [V2G2-741]) and what it selects from our offer
(payment option, services, energy transfer mode, schedule, a ChargingProfile within PMax [V2G2-293])."""

from __future__ import annotations

import pytest

from stack.sessions.iso15118_2 import V2G_EVCC_CommunicationSetup_Timeout
from stack.sessions.messages import pv_value
from stack.timers import SpecTimer

from ..support import AC, DC, requests_from_dut, wait_for

pytestmark = pytest.mark.dut_role("pev")

ZERO = "0000000000000000"
PMAX_W = 20_000.0  # what our charger's PMaxSchedule allows (below the car's own maximum power)
T_resume = SpecTimer("T_resume", 12.5 + V2G_EVCC_CommunicationSetup_Timeout.seconds,
                     "SDP retries (V2G2-161: 50 × 250 ms) + V2G_EVCC_CommunicationSetup_Timeout: from the resume "
                     "to the car's new SessionSetupReq")


T_paused = SpecTimer("T_paused", 1.0, "ccs-hil working value: how long the pause lasts before the car resumes")


def offered(v2g, name: str):
    return v2g.expect(lambda r: r.layer == "exi" and r.dir == "to_dut" and r.name == name, what=f"our charger's {name}")


@pytest.mark.requirement("CCSHIL-ISO2-EV-SID-01")
@pytest.mark.fails_with("pev-wrong-session-id")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_every_request_carries_the_assigned_session_id(v2g, protocol):
    """After SessionSetupRes every request of the car carries the SessionID our charger assigned."""
    v2g.start(protocol)
    v2g.run_to_end()
    setup = [r for r in v2g.messages("SessionSetupRes", sender="tester")]
    v2g.check(setup, "no SessionSetupRes")
    assigned = v2g.session_id(setup[0])
    later = [r for r in requests_from_dut(v2g) if v2g.index(r) > v2g.index(setup[0])]
    v2g.check(later, "the car sent nothing after SessionSetupRes", mark=setup[0])
    for request in later:
        v2g.check(v2g.session_id(request) == assigned, f"{request.name} carries SessionID "
                  f"{v2g.session_id(request)}, the session's is {assigned}", mark=request)


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-ISO2-EV-SID-02")
@pytest.mark.fails_with("pev-iso2-session-setup-nonzero-id")
def test_a_new_session_starts_with_session_id_zero(v2g):
    """The car starts a new ISO 15118-2 session (no paused session to resume) with SessionID 0 in SessionSetupReq
    (any all-zero hexBinary: Josev sends the one byte 00, our car eight)."""
    v2g.start(DC)
    request = v2g.expect("SessionSetupReq")
    sid = v2g.session_id(request) or ""
    v2g.check(sid and sid.strip("0") == "", f"SessionSetupReq carries SessionID {sid or '(none)'}", mark=request)


@pytest.mark.smoke
@pytest.mark.requirement("CCSHIL-ISO2-EV-PAY-01")
@pytest.mark.fails_with("pev-contract-payment", "pev-no-charge-service")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_car_selects_what_was_offered(v2g, protocol):
    """PaymentServiceSelectionReq selects a payment option from our PaymentOptionList and a SelectedServiceList
    that holds the charge service and only services we offered."""
    v2g.start(protocol)
    offer = offered(v2g, "ServiceDiscoveryRes")
    request = v2g.expect("PaymentServiceSelectionReq")
    options = v2g.field(offer, "PaymentOptionList.PaymentOption") or []
    option = v2g.field(request, "SelectedPaymentOption")
    v2g.check(option in options, f"SelectedPaymentOption {option}, offered {options}", mark=request)
    charge = v2g.field(offer, "ChargeService.ServiceID")
    services = {charge, *(s.get("ServiceID") for s in v2g.field(offer, "ServiceList.Service") or [])}
    selected = [s.get("ServiceID") for s in v2g.field(request, "SelectedServiceList.SelectedService") or []]
    v2g.check(charge in selected, f"SelectedServiceList {selected} lacks the charge service {charge}", mark=request)
    v2g.check(set(selected) <= services, f"SelectedServiceList {selected}, offered {sorted(services)}", mark=request)


@pytest.mark.requirement("CCSHIL-ISO2-EV-CPD-01")
@pytest.mark.fails_with("pev-wrong-energy-mode")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_car_requests_an_offered_energy_transfer_mode(v2g, protocol):
    """ChargeParameterDiscoveryReq asks for a RequestedEnergyTransferMode from our SupportedEnergyTransferMode list
    and carries the charge parameters of that mode (AC_EVChargeParameter or DC_EVChargeParameter)."""
    v2g.start(protocol)
    offer = offered(v2g, "ServiceDiscoveryRes")
    request = v2g.expect("ChargeParameterDiscoveryReq")
    modes = v2g.field(offer, "ChargeService.SupportedEnergyTransferMode.EnergyTransferMode") or []
    mode = str(v2g.field(request, "RequestedEnergyTransferMode"))
    v2g.check(mode in modes, f"RequestedEnergyTransferMode {mode}, offered {modes}", mark=request)
    wanted = "AC_EVChargeParameter" if mode.startswith("AC") else "DC_EVChargeParameter"
    v2g.check(isinstance(v2g.field(request, wanted), dict), f"{mode} requested without {wanted}", mark=request)


@pytest.mark.requirement("CCSHIL-ISO2-EV-PD-01")
@pytest.mark.fails_with("pev-wrong-tuple")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_car_starts_with_an_offered_schedule(v2g, protocol):
    """PowerDeliveryReq(Start) names an SAScheduleTupleID from our SAScheduleList."""
    v2g.start(protocol)
    start = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut"
                       and v2g.field(r, "ChargeProgress") == "Start", what="the car's PowerDeliveryReq(Start)")
    offers = [r for r in v2g.messages("ChargeParameterDiscoveryRes", sender="tester")
              if v2g.field(r, "EVSEProcessing") == "Finished"]
    v2g.check(offers, "no ChargeParameterDiscoveryRes(Finished) before PowerDelivery", mark=start)
    ids = [t.get("SAScheduleTupleID") for t in v2g.field(offers[-1], "SAScheduleList.SAScheduleTuple") or []]
    chosen = v2g.field(start, "SAScheduleTupleID")
    v2g.check(chosen in ids, f"PowerDeliveryReq SAScheduleTupleID {chosen}, offered {ids}", mark=start)


@pytest.mark.requirement("V2G2-293")
@pytest.mark.fails_with("pev-iso2-profile-over-pmax")
@pytest.mark.parametrize("protocol", [DC, AC])
def test_the_charging_profile_stays_within_pmax(v2g, protocol):
    """When the car sends a ChargingProfile with PowerDeliveryReq(Start), each entry's maximum power is within the
    PMax of our PMaxSchedule (here 20 kW)."""
    v2g.start(protocol, tester={"pmax_w": PMAX_W})
    start = v2g.expect(lambda r: r.name == "PowerDeliveryReq" and r.dir == "from_dut"
                       and v2g.field(r, "ChargeProgress") == "Start", what="the car's PowerDeliveryReq(Start)")
    entries = v2g.field(start, "ChargingProfile.ProfileEntry") or []
    for entry in entries:
        power = pv_value(entry.get("ChargingProfileEntryMaxPower"))
        v2g.check(power <= PMAX_W, f"ChargingProfile entry at {entry.get('ChargingProfileEntryStart')} s: "
                  f"{power:g} W, PMax {PMAX_W:g} W", mark=start)


@pytest.mark.requirement("V2G2-741")
@pytest.mark.fails_with("pev-forgets-session-on-resume")
def test_the_car_resumes_a_paused_session_with_its_session_id(v2g):
    """A car that paused with SessionStop(ChargingSession=Pause) resumes with SessionSetupReq carrying the paused
    session's SessionID."""
    v2g.start(DC, dut={"charge_loops": None, "charge_time": 30.0})
    v2g.expect("CurrentDemandReq", nth=3)
    v2g.dut_command("pause")
    stop = v2g.expect(lambda r: r.name == "SessionStopReq" and r.dir == "from_dut", what="the car's SessionStopReq")
    v2g.check(v2g.field(stop, "ChargingSession") == "Pause",
              f"the car sent ChargingSession={v2g.field(stop, 'ChargingSession')}", mark=stop)
    paused = v2g.session_id(stop)
    v2g.expect("tcp:closed", after=v2g.index(stop), what="the paused session's connection closes")
    v2g.hold(T_paused, "the car stays paused")
    mark = len(v2g.timeline)
    v2g.dut_command("resume")
    setup = wait_for(v2g, lambda r: r.layer == "exi" and r.name == "SessionSetupReq" and r.dir == "from_dut",
                     T_resume, mark, "the car's SessionSetupReq after resuming")
    v2g.check(v2g.session_id(setup) == paused, f"the car resumed with SessionID {v2g.session_id(setup)}, the paused "
              f"session's is {paused}", mark=setup)
