"""Every FAILED_* path: the rule the EV breaks, the SECC's code and finding, and what each side does next
(the SECC answers with a minimal response of the request's type and closes; the EVCC stops and closes)."""

from __future__ import annotations

import pytest

from stack.sessions.faults import Fault, fault_set
from tests.sessions.helpers import body, ended, exi, findings, make_pair


def run_with(protocol, pev_faults=(), evse=None, pev=None, **kw):
    pair = make_pair(protocol, evse=evse, pev={"charge_loops": 3, **(pev or {})}, pev_faults=pev_faults, **kw)
    pair.run(until=lambda: pair.pev.done and ended(pair, "evse") is not None)
    return pair


def refused(pair, response: str):
    records = exi(pair, response)
    assert records, f"no {response} was sent"
    return body(records[-1])


CASES = [
    # (protocol, PEV faults, EVSE settings, response, code, requirement)
    ("din", fault_set("pev-wrong-session-id").faults, None, "ServiceDiscoveryRes", "FAILED_UnknownSession",
     "V2G-DC-391"),
    ("iso2-dc", fault_set("pev-wrong-session-id").faults, None, "ServiceDiscoveryRes", "FAILED_UnknownSession",
     "V2G2-460"),
    ("din", fault_set("pev-skip-cable-check").faults, None, "PreChargeRes", "FAILED_SequenceError", "V2G-DC-453"),
    ("iso2-dc", fault_set("pev-skip-cable-check").faults, None, "PreChargeRes", "FAILED_SequenceError", "V2G2-582"),
    ("iso2-ac", fault_set("pev-skip-session-setup").faults, None, "ServiceDiscoveryRes", "FAILED_SequenceError",
     "V2G2-541"),
    ("din", fault_set("pev-contract-payment").faults, None, "ServicePaymentSelectionRes",
     "FAILED_PaymentSelectionInvalid", "V2G-DC-395"),
    ("iso2-ac", fault_set("pev-contract-payment").faults, None, "PaymentServiceSelectionRes",
     "FAILED_PaymentSelectionInvalid", "V2G2-465"),
    ("din", fault_set("pev-no-charge-service").faults, None, "ServicePaymentSelectionRes",
     "FAILED_ServiceSelectionInvalid", "V2G-DC-396"),
    ("iso2-dc", fault_set("pev-no-charge-service").faults, None, "PaymentServiceSelectionRes",
     "FAILED_NoChargeServiceSelected", "V2G2-804"),
    ("iso2-dc", [Fault("PaymentServiceSelectionReq", "set_field",
                       {"SelectedServiceList": {"SelectedService": [{"ServiceID": 1}, {"ServiceID": 3}]}})],
     None, "PaymentServiceSelectionRes", "FAILED_ServiceSelectionInvalid", "V2G2-467"),
    ("din", fault_set("pev-wrong-energy-mode").faults, None, "ChargeParameterDiscoveryRes",
     "FAILED_WrongEnergyTransferType", "V2G-DC-397"),
    ("iso2-ac", fault_set("pev-wrong-energy-mode").faults, None, "ChargeParameterDiscoveryRes",
     "FAILED_WrongEnergyTransferMode", "V2G2-476"),
    ("din", [Fault("ChargeParameterDiscoveryReq", "set_field", {"DC_EVChargeParameter": None, "AC_EVChargeParameter": {
        "DepartureTime": 0, "EAmount": {"Multiplier": 0, "Unit": "Wh", "Value": 100},
        "EVMaxVoltage": {"Multiplier": 0, "Unit": "V", "Value": 400},
        "EVMaxCurrent": {"Multiplier": 0, "Unit": "A", "Value": 16},
        "EVMinCurrent": {"Multiplier": 0, "Unit": "A", "Value": 6}}})],
     None, "ChargeParameterDiscoveryRes", "FAILED_WrongChargeParameter", "V2G-DC-398"),
    ("iso2-dc", [Fault("ChargeParameterDiscoveryReq", "set_field", {"RequestedEnergyTransferMode": "DC_core"}),
                 Fault("ChargeParameterDiscoveryReq", "set_field", {"DC_EVChargeParameter": None,
                                                                    "AC_EVChargeParameter": {
        "EAmount": {"Multiplier": 0, "Unit": "Wh", "Value": 100},
        "EVMaxVoltage": {"Multiplier": 0, "Unit": "V", "Value": 400},
        "EVMaxCurrent": {"Multiplier": 0, "Unit": "A", "Value": 16},
        "EVMinCurrent": {"Multiplier": 0, "Unit": "A", "Value": 6}}})],
     None, "ChargeParameterDiscoveryRes", "FAILED_WrongChargeParameter", "V2G2-477"),
    ("din", fault_set("pev-wrong-tuple").faults, None, "PowerDeliveryRes", "FAILED_TariffSelectionInvalid",
     "V2G-DC-400"),
    ("iso2-ac", fault_set("pev-wrong-tuple").faults, None, "PowerDeliveryRes", "FAILED_TariffSelectionInvalid",
     "V2G2-479"),
    ("din", [Fault("PowerDeliveryReq", "set_field",
                   {"ChargingProfile.ProfileEntry": [{"ChargingProfileEntryStart": 0,
                                                      "ChargingProfileEntryMaxPower": 20000}]})],
     {"pmax_w": 10000}, "PowerDeliveryRes", "FAILED_ChargingProfileInvalid", "V2G-DC-399"),
    ("iso2-dc", [Fault("PowerDeliveryReq", "set_field",
                       {"ChargingProfile.ProfileEntry": [{"ChargingProfileEntryStart": 0,
                                                          "ChargingProfileEntryMaxPower":
                                                              {"Multiplier": 3, "Unit": "W", "Value": 20}}]})],
     {"pmax_w": 10000}, "PowerDeliveryRes", "FAILED_ChargingProfileInvalid", "V2G2-225"),
    ("iso2-dc", [Fault("PowerDeliveryReq", "set_field", {"ChargeProgress": "Renegotiate"})], None,
     "PowerDeliveryRes", "FAILED", "V2G2-812"),
    ("iso2-dc", [Fault("ServiceDetailReq", "set_field", {"ServiceID": 99})], None, "ServiceDetailRes",
     "FAILED_ServiceIDInvalid", "V2G2-464"),
]


@pytest.mark.parametrize(("protocol", "faults", "evse", "response", "code", "requirement"), CASES,
                         ids=[f"{c[0]}-{c[4]}-{c[5]}" for c in CASES])
def test_secc_refuses_with_the_failed_code_and_both_sides_stop(protocol, faults, evse, response, code, requirement):
    pev = {"request_service_detail": True} if response == "ServiceDetailRes" else None
    pair = run_with(protocol, faults, evse=evse, pev=pev)
    answer = refused(pair, response)
    assert answer["ResponseCode"] == code
    assert findings(pair, "evse")[-1].body["requirement"] == requirement
    # the EVSE closes after a FAILED response [V2G2-539]/[V2G-DC-665]; the EV stops too
    evse_end, pev_end = ended(pair, "evse"), ended(pair, "pev")
    assert not evse_end.body["ok"] and evse_end.body["reason"] == f"sent {code}"
    assert not pev_end.body["ok"]
    if "out_of_sequence" not in {f.action for f in faults}:  # else the EV sees a response to a request it did not send
        assert pev_end.body.get("code") == code
    assert exi(pair)[-1].name == response  # nothing after the refusal
    assert not pair.evse.stage.output_on


def test_failed_responses_are_minimal_but_schema_valid_for_every_request_type():
    """[V2G2-538]/[V2G2-736]: a refusal is a response of the request's own type (the codec encodes it)."""
    from stack import exi as codec
    from stack.sessions.config import EvseConfig
    from stack.sessions.din70121 import DIN
    from stack.sessions.iso15118_2 import ISO2
    from stack.sessions.messages import v2g
    from stack.sessions.secc import EvseContext, SeccSession

    for dialect in (DIN, ISO2):
        session = SeccSession(EvseContext.build(EvseConfig()), 0.0)
        session.dialect, session.schema, session.session_id = dialect, dialect.schema, "0102030405060708"
        for pair_name in dialect.table.pairs:
            if pair_name in ("PaymentDetails", "CertificateInstallation", "CertificateUpdate"):
                continue
            response = session._failed_body(pair_name, {}, "FAILED_SequenceError", 0.0)
            data = codec.encode(dialect.schema, v2g("0102030405060708", f"{pair_name}Res", response))
            assert codec.decode(dialect.schema, data)["V2G_Message"]["Body"][f"{pair_name}Res"]["ResponseCode"] \
                == "FAILED_SequenceError"


def test_no_common_protocol_fails_the_handshake():
    pair = make_pair("din", evse_protocol="iso2-dc")
    pair.run(until=lambda: pair.pev.done and ended(pair, "evse") is not None)
    res = exi(pair, "supportedAppProtocolRes")[0].body["supportedAppProtocolRes"]
    assert res == {"ResponseCode": "Failed_NoNegotiation"}
    assert pair.pev.result.reason == "supportedAppProtocolRes Failed_NoNegotiation"
    assert not exi(pair, "SessionSetupReq")


def test_a_request_the_standard_does_not_have_is_refused_without_answer():
    pair = run_with("din", [Fault("ContractAuthenticationReq", "out_of_sequence", "ServiceDetailReq", schema="din")])
    assert not exi(pair, "ServiceDetailRes")
    assert findings(pair, "evse")[-1].body["requirement"] == "V2G-DC-390"
    assert not pair.pev.result.ok


def test_a_message_our_codec_refuses_is_not_sent_and_the_connection_closes():
    from stack.sessions.faults import FaultInjector  # noqa: F401  (the fault writes a field the codec rejects)

    pair = run_with("iso2-dc", [Fault("ServiceDiscoveryReq", "set_field", {"ServiceCategory": "Nonsense"})])
    local = pair.state("local_error")
    assert local and "cannot encode" in local[0].body["error"]
    assert not pair.pev.result.ok


def test_garbage_on_the_wire_is_undecodable_for_the_secc():
    from stack import exi as codec
    from stack.roles.connection import V2GConnection
    from stack.sessions.config import EvseConfig
    from stack.sessions.secc import EvseContext, SeccSession

    connection = V2GConnection(7, SeccSession(EvseContext.build(EvseConfig()), 0.0), codec)
    out = connection.feed(bytes.fromhex("01fe8001000000040badbeef"), 0.1)
    kinds = [type(o).__name__ for o in out]
    assert "CloseStream" in kinds
    errors = [o.data["error"] for o in out if getattr(o, "name", "") == "peer_error"]
    assert errors and "undecodable" in errors[0]
    assert connection.feed(b"\x01\xfe\x80\x01", 0.2) == []  # closed: nothing more


def test_wrong_v2gtp_version_closes_the_connection():
    from stack import exi as codec
    from stack.roles.connection import V2GConnection
    from stack.sessions.config import EvseConfig
    from stack.sessions.secc import EvseContext, SeccSession

    connection = V2GConnection(7, SeccSession(EvseContext.build(EvseConfig()), 0.0), codec)
    out = connection.feed(bytes.fromhex("02fd800100000000"), 0.1)
    assert any(type(o).__name__ == "CloseStream" for o in out)
    assert "version 0x02/0xfd" in [o for o in out if getattr(o, "name", "") == "peer_error"][0].data["error"]


@pytest.mark.parametrize("protocol", ["iso2-dc", "iso2-ac"])
def test_our_ev_ends_the_session_when_an_eim_charger_asks_for_a_receipt(protocol):
    """ReceiptRequired=true under EIM [V2G2-691]: our EV cannot sign a MeteringReceipt, and the sequence allows
    nothing else then [V2G2-795]/[V2G2-577] — it ends the session naming V2G2-691 (it used to raise
    LocalProtocolError by sending SessionStopReq, found by the ISO-2 catalogue)."""
    pair = run_with(protocol, evse_faults=fault_set("evse-receipt-required-eim").faults)
    pev_end = ended(pair, "pev")
    assert not pev_end.body["ok"] and pev_end.body["requirement"] == "V2G2-691"
    assert findings(pair, "pev")[-1].body["requirement"] == "V2G2-691"
    loop = "CurrentDemandRes" if protocol == "iso2-dc" else "ChargingStatusRes"
    assert exi(pair)[-1].name == loop  # no request after the receipt was asked for
