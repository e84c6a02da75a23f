"""SupportedAppProtocol negotiation (ISO 15118-2 §8.2, schema V2G_CI_AppProtocol.xsd), both roles.

The EVCC offers up to 20 protocols, each with namespace, major/minor version, a SchemaID of its choosing and a
Priority (1 = most wanted). The SECC takes the EV's offers in priority order and picks the first one it supports
with the same major version: OK_SuccessfulNegotiation when the minor matches, ..WithMinorDeviation when not;
Failed_NoNegotiation (no SchemaID) when nothing fits [V2G2-172] ([Josev] secc/states/sap_states.py behaves so).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stack.errors import RemoteProtocolError

SCHEMA = "apphand"
NAMESPACE = "urn:iso:15118:2:2010:AppProtocol"
MAX_OFFERS = 20

OK = "OK_SuccessfulNegotiation"
OK_MINOR = "OK_SuccessfulNegotiationWithMinorDeviation"
FAILED = "Failed_NoNegotiation"


@dataclass(frozen=True)
class AppProtocol:
    schema: str  # our name for the message set: "din", "iso2", "iso20"
    namespace: str
    major: int
    minor: int


PROTOCOLS = {
    "din": AppProtocol("din", "urn:din:70121:2012:MsgDef", 2, 0),
    "iso2": AppProtocol("iso2", "urn:iso:15118:2:2013:MsgDef", 2, 0),
    "iso20": AppProtocol("iso20", "urn:iso:std:iso:15118:-20:DC", 1, 0),
}
BY_NAMESPACE = {p.namespace: p for p in PROTOCOLS.values()}


@dataclass(frozen=True)
class Negotiated:
    schema: str | None  # None when negotiation failed
    schema_id: int | None
    code: str


def offer(schemas: Iterable[str]) -> dict[str, Any]:
    """The EVCC's supportedAppProtocolReq: our protocols in preference order, Priority 1..n, SchemaID 1..n."""
    entries = []
    for index, name in enumerate(schemas, start=1):
        protocol = PROTOCOLS[name]
        entries.append({"ProtocolNamespace": protocol.namespace, "VersionNumberMajor": protocol.major,
                        "VersionNumberMinor": protocol.minor, "SchemaID": index, "Priority": index})
    if not 1 <= len(entries) <= MAX_OFFERS:
        raise ValueError(f"an SAP request offers 1..{MAX_OFFERS} protocols, not {len(entries)}")
    return {"supportedAppProtocolReq": {"AppProtocol": entries}}


def negotiate(request: dict[str, Any], supported: Iterable[str]) -> tuple[dict[str, Any], Negotiated]:
    """SECC side: choose from the EV's offers; returns (supportedAppProtocolRes, outcome).

    Raises `RemoteProtocolError` when the request is not a well-formed supportedAppProtocolReq."""
    try:
        offers = list(request["supportedAppProtocolReq"]["AppProtocol"])
    except (KeyError, TypeError) as exc:
        raise RemoteProtocolError(f"expected supportedAppProtocolReq, got {list(request)[:1]}",
                                  "V2G2-540") from exc
    if not 1 <= len(offers) <= MAX_OFFERS:
        raise RemoteProtocolError(f"supportedAppProtocolReq with {len(offers)} entries (1..{MAX_OFFERS})",
                                  "V2G2-540")
    ours = {PROTOCOLS[name].namespace: PROTOCOLS[name] for name in supported}
    for entry in sorted(offers, key=lambda e: int(e.get("Priority", MAX_OFFERS))):
        protocol = ours.get(entry.get("ProtocolNamespace", ""))
        if protocol is None or int(entry.get("VersionNumberMajor", -1)) != protocol.major:
            continue
        code = OK if int(entry.get("VersionNumberMinor", -1)) == protocol.minor else OK_MINOR
        schema_id = int(entry["SchemaID"])
        return ({"supportedAppProtocolRes": {"ResponseCode": code, "SchemaID": schema_id}},
                Negotiated(protocol.schema, schema_id, code))
    return {"supportedAppProtocolRes": {"ResponseCode": FAILED}}, Negotiated(None, None, FAILED)


def accept(request: dict[str, Any], response: dict[str, Any]) -> Negotiated:
    """EVCC side: what the SECC chose. A SchemaID we did not offer, or a success without one, is the SECC's fault."""
    try:
        body = response["supportedAppProtocolRes"]
    except (KeyError, TypeError) as exc:
        raise RemoteProtocolError(f"expected supportedAppProtocolRes, got {list(response)[:1]}",
                                  "V2G2-540") from exc
    code = body.get("ResponseCode")
    if code == FAILED:
        return Negotiated(None, None, FAILED)
    if code not in (OK, OK_MINOR):
        raise RemoteProtocolError(f"supportedAppProtocolRes ResponseCode {code!r} unknown", "V2G2-540")
    offered = {int(e["SchemaID"]): e for e in request["supportedAppProtocolReq"]["AppProtocol"]}
    schema_id = body.get("SchemaID")
    if schema_id is None or int(schema_id) not in offered:
        raise RemoteProtocolError(f"supportedAppProtocolRes chose SchemaID {schema_id!r}, offered "
                                  f"{sorted(offered)}", "V2G2-540")
    entry = offered[int(schema_id)]
    protocol = BY_NAMESPACE[entry["ProtocolNamespace"]]
    return Negotiated(protocol.schema, int(schema_id), code)
