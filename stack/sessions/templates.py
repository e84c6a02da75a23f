"""Plausible, schema-valid bodies for any DIN / ISO 15118-2 request or response, from default values.

Used where a message must be produced outside the normal flow: fault injection's `out_of_sequence` (a PEV that
sends PreChargeReq instead of CableCheckReq, an EVSE that answers with the wrong response type) and tests.
"""

from __future__ import annotations

from typing import Any

from stack.sessions.dialect import Dialect, EvLimits, EvseLimits, EvseStatus, EvStatus
from stack.sessions.din70121 import DIN
from stack.sessions.iso15118_2 import ISO2

_EVSE_STATUS = EvseStatus(isolation="Valid")
_EVSE_LIMITS = EvseLimits(500, 150, 200, 0, 100_000, 5, 2)
_EV_STATUS = EvStatus(True, "NO_ERROR", 50)
_EV_LIMITS = EvLimits(420, 125, 50_000, 60_000, 20_000, 100, 80)
_EVSE_ID = "DE*CCS*E00001*1"


def dialect_for(schema: str) -> Dialect:
    return {"din": DIN, "iso2": ISO2}[schema]


def body(schema: str, name: str, energy: str = "DC") -> dict[str, Any]:
    """A body for message `name` (e.g. `PreChargeReq`) of `schema` ("din" | "iso2")."""
    d = dialect_for(schema)
    pair, kind = name[:-3], name[-3:]
    if kind not in ("Req", "Res"):
        raise ValueError(f"{name!r} is not a request or response name")
    requests = {
        "SessionSetup": lambda: d.session_setup_req("020000000001"),
        "ServiceDiscovery": d.service_discovery_req,
        "ServiceDetail": lambda: {"ServiceID": 1},
        d.payment_pair: lambda: d.payment_selection_req("ExternalPayment", 1),
        d.authorization_pair: d.authorization_req,
        "ChargeParameterDiscovery": lambda: d.charge_parameter_discovery_req(
            "AC_three_phase_core" if energy == "AC" else "DC_extended", _EV_STATUS,
            EvLimits(400, 16, 11_000, 60_000, 20_000, 100, 80) if energy == "AC" else _EV_LIMITS, None),
        "CableCheck": lambda: d.cable_check_req(_EV_STATUS),
        "PreCharge": lambda: d.pre_charge_req(_EV_STATUS, 370, 2),
        "PowerDelivery": lambda: d.power_delivery_req("Start", _EV_STATUS, 1, [], energy, False, False),
        "CurrentDemand": lambda: d.current_demand_req(_EV_STATUS, 400, 50, _EV_LIMITS, False, False, None, None),
        "ChargingStatus": lambda: {},
        "WeldingDetection": lambda: d.welding_detection_req(_EV_STATUS),
        "SessionStop": lambda: d.session_stop_req("terminate"),
    }
    responses = {
        "SessionSetup": lambda: d.session_setup_res("OK_NewSessionEstablished", _EVSE_ID, None),
        "ServiceDiscovery": lambda: d.service_discovery_res("OK", ["AC_three_phase_core" if energy == "AC"
                                                                   else "DC_extended"], ["ExternalPayment"], False),
        "ServiceDetail": lambda: {"ResponseCode": "OK", "ServiceID": 1},
        d.payment_pair: lambda: d.simple_res("OK"),
        d.authorization_pair: lambda: d.authorization_res("OK", "Finished"),
        "ChargeParameterDiscovery": lambda: d.charge_parameter_discovery_res(
            "OK", "Finished", _EVSE_STATUS, _EVSE_LIMITS, energy, 50_000, 86_400, 1, True),
        "CableCheck": lambda: d.cable_check_res("OK", _EVSE_STATUS, "Finished"),
        "PreCharge": lambda: d.pre_charge_res("OK", _EVSE_STATUS, 370),
        "PowerDelivery": lambda: d.power_delivery_res("OK", _EVSE_STATUS, energy),
        "CurrentDemand": lambda: d.current_demand_res("OK", _EVSE_STATUS, 400, 50, {}, _EVSE_LIMITS, _EVSE_ID, 1,
                                                      False),
        "ChargingStatus": lambda: ISO2.charging_status_res("OK", _EVSE_STATUS, _EVSE_ID, 1, 32, 0, False),
        "WeldingDetection": lambda: d.welding_detection_res("OK", _EVSE_STATUS, 0),
        "SessionStop": lambda: d.simple_res("OK"),
    }
    table = requests if kind == "Req" else responses
    if pair not in table:
        raise ValueError(f"no template for {name} in {schema}")
    return table[pair]()
