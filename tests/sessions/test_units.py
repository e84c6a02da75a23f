"""Units of the session layer: sequence tables and their timers (against PROTOCOL.md §D.1), SupportedAppProtocol,
physics, configs, message helpers."""

from __future__ import annotations

import pytest

from stack import exi
from stack.errors import RemoteProtocolError
from stack.sessions import apphand
from stack.sessions.config import EvseConfig, PevConfig
from stack.sessions.din70121 import DIN
from stack.sessions.iso15118_2 import ISO2
from stack.sessions.messages import get_path, pv, pv_value, set_path, v2g
from stack.sessions.physics import Battery, PowerStage
from stack.sessions.secc import SeccSession
from stack.sessions.sequence import INITIAL, SequenceContext, SequenceViolation

# PROTOCOL.md §D.1, written out again as the oracle
DIN_TIMEOUTS = {"SessionSetup": 2, "ServiceDiscovery": 2, "ServicePaymentSelection": 2, "ContractAuthentication": 2,
                "ChargeParameterDiscovery": 2, "PowerDelivery": 2, "CableCheck": 2, "PreCharge": 2,
                "CurrentDemand": 0.25, "WeldingDetection": 2, "SessionStop": 2}
ISO2_TIMEOUTS = {"SessionSetup": 2, "ServiceDiscovery": 2, "ServiceDetail": 5, "PaymentServiceSelection": 2,
                 "PaymentDetails": 5, "CertificateInstallation": 5, "CertificateUpdate": 5, "Authorization": 2,
                 "ChargeParameterDiscovery": 2, "PowerDelivery": 5, "ChargingStatus": 2, "MeteringReceipt": 2,
                 "CableCheck": 2, "PreCharge": 2, "CurrentDemand": 0.25, "WeldingDetection": 2, "SessionStop": 2}


@pytest.mark.parametrize(("dialect", "expected"), [(DIN, DIN_TIMEOUTS), (ISO2, ISO2_TIMEOUTS)])
def test_message_timeouts_are_the_standards(dialect, expected):
    table = dialect.table
    assert {name: pair.timeout.seconds for name, pair in table.pairs.items()} == expected
    assert table.handshake.timeout.seconds == 2
    assert table.sequence_timeout.seconds == 60 and table.communication_setup.seconds == 20
    assert table.pairs["CableCheck"].loop.seconds == 40 and table.pairs["PreCharge"].loop.seconds == 7
    for name, pair in table.pairs.items():
        assert pair.timeout.name == f"V2G_EVCC_Msg_Timeout({name}Req)"


def test_loop_bounds_differ_per_standard():
    assert DIN.table.pairs["ChargeParameterDiscovery"].loop.name == "V2G_EVCC_ReadyToCharge_Timeout"
    assert DIN.table.pairs["ChargeParameterDiscovery"].loop.seconds == 150
    assert ISO2.table.pairs["Authorization"].loop.name == "V2G_EVCC_Ongoing_Timeout"
    assert DIN.table.extra_timers["cp_detection"].seconds == 1.5


@pytest.mark.parametrize("dialect", [DIN, ISO2])
def test_every_state_the_outcomes_produce_has_a_rule_and_every_rule_names_known_pairs(dialect):
    table = dialect.table
    for state, rule in table.after.items():
        assert rule.requirement, state
        for name in rule.next:
            assert name in table.pairs or name == "SupportedAppProtocol", (state, name)
    looping = {dialect.authorization_pair, "ChargeParameterDiscovery", "CableCheck"}  # responses with EVSEProcessing
    requests = {"PowerDelivery": [{"ChargeProgress": p} for p in ("Start", "Stop", "Renegotiate")]
                if dialect is ISO2 else [{"ReadyToChargeState": True}, {"ReadyToChargeState": False}],
                dialect.payment_pair: [{"SelectedPaymentOption": "ExternalPayment"}]}
    for name in table.pairs:  # every exchange leads to a state with a rule
        for processing in (("Ongoing", "Finished") if name in looping else (None,)):
            response = {"ResponseCode": "OK", **({"EVSEProcessing": processing} if processing else {})}
            for energy in ("AC", "DC") if dialect is ISO2 else ("DC",):
                for request in requests.get(name, [{}]):
                    table.lookup(table.outcome(name, request, response, SequenceContext(energy=energy)))


def test_the_sequence_rules_themselves():
    table, ctx = ISO2.table, SequenceContext()
    with pytest.raises(SequenceViolation, match=r"\[V2G2-541\] ServiceDiscoveryReq after SupportedAppProtocol"):
        table.check("SupportedAppProtocol", "ServiceDiscovery")
    assert table.outcome("ChargeParameterDiscovery", {"RequestedEnergyTransferMode": "DC_extended"},
                         {"ResponseCode": "OK", "EVSEProcessing": "Finished"}, ctx) == "ChargeParameterDiscovery.Finished.DC"
    assert table.allowed_after("ChargeParameterDiscovery.Finished.DC") == {"CableCheck"}
    renegotiate = table.outcome("PowerDelivery", {"ChargeProgress": "Renegotiate"}, {"ResponseCode": "OK"}, ctx)
    assert table.allowed_after(renegotiate) == {"ChargeParameterDiscovery"}
    assert table.outcome("ChargeParameterDiscovery", {"RequestedEnergyTransferMode": "DC_extended"},
                         {"ResponseCode": "OK", "EVSEProcessing": "Finished"}, ctx).endswith("Renegotiation")
    assert table.allowed_after("ChargeParameterDiscovery.Finished.Renegotiation") == {"PowerDelivery"}
    assert table.outcome("CurrentDemand", {}, {"ResponseCode": "OK", "ReceiptRequired": True}, ctx) == \
        "CurrentDemand.Receipt"
    assert table.allowed_after("CurrentDemand.Receipt") == {"MeteringReceipt"}
    assert table.outcome("SessionSetup", {}, {"ResponseCode": "FAILED_UnknownSession"}, ctx) == "Failed"
    assert table.allowed_after("SessionStop") == frozenset() and table.allowed_after(INITIAL) == \
        {"SupportedAppProtocol"}
    assert DIN.table.outcome("PowerDelivery", {"ReadyToChargeState": False}, {"ResponseCode": "OK"},
                             SequenceContext(energy="DC")) == "PowerDelivery.Stop.DC"
    assert DIN.table.allowed_after("PowerDelivery.Stop.DC") == {"WeldingDetection", "SessionStop"}


@pytest.mark.parametrize("dialect", [DIN, ISO2])
def test_the_secc_has_a_handler_for_every_pair_it_does_not_refuse_outright(dialect):
    for name in dialect.table.pairs:
        if name in ("PaymentDetails", "CertificateInstallation", "CertificateUpdate"):
            continue  # PnC: never offered, refused without an answer
        assert hasattr(SeccSession, f"_on_{name}"), name


def test_apphand_priorities_versions_and_failures():
    offer = {"supportedAppProtocolReq": {"AppProtocol": [
        {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2, "VersionNumberMinor": 0,
         "SchemaID": 7, "Priority": 2},
        {"ProtocolNamespace": "urn:iso:15118:2:2013:MsgDef", "VersionNumberMajor": 2, "VersionNumberMinor": 1,
         "SchemaID": 9, "Priority": 1},
        {"ProtocolNamespace": "urn:iso:std:iso:15118:-20:DC", "VersionNumberMajor": 1, "VersionNumberMinor": 0,
         "SchemaID": 3, "Priority": 3}]}}
    response, outcome = apphand.negotiate(offer, ["din", "iso2"])
    assert outcome.schema == "iso2" and response["supportedAppProtocolRes"] == {
        "ResponseCode": "OK_SuccessfulNegotiationWithMinorDeviation", "SchemaID": 9}  # EV's priority 1 wins
    response, outcome = apphand.negotiate(offer, ["din"])
    assert response["supportedAppProtocolRes"] == {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 7}
    offer["supportedAppProtocolReq"]["AppProtocol"][0]["VersionNumberMajor"] = 3
    response, outcome = apphand.negotiate(offer, ["din"])
    assert outcome.schema is None and response == {"supportedAppProtocolRes": {"ResponseCode": "Failed_NoNegotiation"}}
    with pytest.raises(RemoteProtocolError, match="V2G2-540"):
        apphand.negotiate({"supportedAppProtocolReq": {"AppProtocol": []}}, ["din"])
    ours = apphand.offer(["iso2", "din"])
    assert apphand.accept(ours, {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation",
                                                             "SchemaID": 2}}).schema == "din"
    with pytest.raises(RemoteProtocolError, match="chose SchemaID 5"):
        apphand.accept(ours, {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 5}})


def test_our_din_offer_is_byte_identical_to_the_ioniqs():
    assert exi.encode("apphand", apphand.offer(["din"])).hex() == \
        "8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040"


def test_physical_values():
    assert pv(400, "V") == {"Multiplier": -1, "Value": 4000, "Unit": "V"}
    assert pv(50000, "W") == {"Multiplier": 1, "Value": 5000, "Unit": "W"}
    assert pv(0.25, "s") == {"Multiplier": -3, "Value": 250, "Unit": "s"}
    assert pv_value({"Multiplier": 3, "Value": 20, "Unit": "W"}) == 20000
    assert pv_value(None, 1.0) == 1.0


def test_paths():
    message = v2g("00", "PreChargeRes", {"EVSEPresentVoltage": {"Value": 1, "Multiplier": 0}})
    assert get_path(message, "EVSEPresentVoltage.Value") == 1 and get_path(message, "Header.SessionID") == "00"
    changed = set_path(message, "EVSEPresentVoltage.Value", 5)
    assert get_path(changed, "EVSEPresentVoltage.Value") == 5 and get_path(message, "EVSEPresentVoltage.Value") == 1
    assert get_path(set_path(message, "EVSEPresentVoltage", None), "EVSEPresentVoltage") is None


def test_battery_charges_tapers_and_completes():
    battery = Battery.from_dict({"capacity_kwh": 10, "soc": 69, "target_soc": 80, "taper_soc": 70, "time_scale": 1})
    assert battery.target_current() == 125
    battery.charge(400, 100, 0.0)
    battery.charge(400, 100, 90.0)  # 1 kWh in 90 s = 10 %
    assert battery.soc == pytest.approx(79.0) and battery.energy_wh == pytest.approx(1000)
    assert battery.target_current() == pytest.approx(5 + 120 * 0.1)
    battery.charge(400, 100, 180.0)
    assert battery.complete and battery.target_current() == 0
    with pytest.raises(ValueError, match="unknown setting\\(s\\) capacity"):
        Battery.from_dict({"capacity": 1})


def test_power_stage_dead_time_ramp_limits_isolation_and_discharge():
    stage = PowerStage.from_dict({"voltage_ramp": 100, "dead_time": 0.1, "isolation_time": 2, "max_power": 10_000,
                                  "max_current": 50})
    stage.switch_on(0.0)
    stage.set_target(300, 100, 0.0)
    stage.update(0.1)
    assert stage.voltage == 0  # dead time
    stage.update(1.1)
    assert stage.voltage == pytest.approx(100)  # 100 V/s for the 1 s after the dead time
    stage.update(10.0)
    assert stage.voltage == 300 and stage.current == pytest.approx(10_000 / 300)  # power limit
    assert stage.limits_hit(300, 100) == {"voltage": False, "current": True, "power": True}
    stage.start_isolation_test(10.0)
    assert stage.isolation_status(11.0) is None and stage.isolation_status(12.0) == "Valid"
    stage.switch_off(12.0)
    stage.update(12.1)
    assert stage.current == 0 and stage.voltage < 300
    stage.emergency_off(12.2)
    stage.switch_on(12.3)
    assert not stage.output_on  # no restart after an emergency stop


def test_configs_from_dicts_and_presets():
    config = EvseConfig.for_protocol("iso2-ac", authorization_time=3, power={"ac_max_current": 16})
    assert config.protocols == ("iso2",) and config.energy_modes[0] == "AC_three_phase_core"
    assert config.power.ac_max_current == 16 and config.authorization_time == 3
    assert PevConfig.for_protocol("din").energy == "DC"
    with pytest.raises(ValueError, match="choose one of din, iso2-dc, iso2-ac"):
        PevConfig.for_protocol("iso20")
    with pytest.raises(ValueError, match="unknown setting\\(s\\) colour"):
        EvseConfig.from_dict({"colour": "red"})
