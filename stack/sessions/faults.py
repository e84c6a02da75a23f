"""Declarative fault injection at the message boundary, for either role.

A `Fault` says *when* (a message name such as `CableCheckRes`, a glob such as `*Res`, `SDP.RES`/`SDP.REQ` for
discovery datagrams, or `state:PreCharge` for whatever the machine sends while in that state; `where` adds field
conditions such as `{"ResponseCode": "FAILED_SequenceError"}`), *what* (`action`) and *how much* (`value`):

| action           | value                                   | effect                                          |
|------------------|-----------------------------------------|-------------------------------------------------|
| `delay`          | seconds                                 | hold the message (later ones queue behind it)   |
| `drop`           | —                                       | never send it                                   |
| `duplicate`      | copies (default 2)                      | send it more than once                          |
| `response_code`  | code, e.g. `"FAILED"`                   | replace ResponseCode                            |
| `set_field`      | `{path: value, ...}`                    | set fields (`Header.SessionID`, `DC_EVSEStatus.EVSEStatusCode`, `EVSEPresentVoltage.Value`, SDP `port`) |
| `out_of_sequence`| message name, e.g. `"PreChargeReq"`     | send that message (template body) instead       |
| `close`          | —                                       | close the TCP connection instead of sending     |
| `silence`        | —                                       | send nothing from now on (connection stays open)|

`nth` picks the first matching occurrence to hit (1 = first), `times` how many (None = every one from `nth` on).

`FaultInjector(inner, faults)` wraps a session machine (`SeccSession`/`EvccSession`) with the same interface, so
the composite roles put it between the machine and the codec; `filter_datagram` does the same for SDP.
`FAULT_SETS` holds the named sets the catalogue selects with `--dut-fault NAME`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stack import sansio as io
from stack.sessions.events import CloseConnection, SendMessage
from stack.sessions.messages import get_path, name_of, set_path
from stack.sessions.templates import body as template_body

ACTIONS = ("delay", "drop", "duplicate", "response_code", "set_field", "out_of_sequence", "close", "silence")


@dataclass(frozen=True)
class Fault:
    when: str
    action: str
    value: Any = None
    where: Mapping[str, Any] = field(default_factory=dict)
    nth: int = 1
    times: int | None = 1
    schema: str | None = None  # only for messages of this schema ("din", "iso2", "apphand", "sdp")

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"fault action {self.action!r}: choose one of {', '.join(ACTIONS)}")
        if self.action == "delay" and not isinstance(self.value, (int, float)):
            raise ValueError("a delay fault needs value=<seconds>")
        if self.action in ("response_code", "out_of_sequence") and not isinstance(self.value, str):
            raise ValueError(f"a {self.action} fault needs value=<name>")
        if self.action == "set_field" and not isinstance(self.value, Mapping):
            raise ValueError("a set_field fault needs value={path: value}")
        if self.nth < 1:
            raise ValueError("nth counts from 1")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Fault:
        return cls(**dict(values))

    def matches(self, name: str, message: Mapping[str, Any] | None, state: str, schema: str) -> bool:
        if self.schema is not None and self.schema != schema:
            return False
        if self.when.startswith("state:"):
            wanted = self.when[6:]
            if not (state == wanted or state.startswith(wanted + ".")):
                return False
        elif not fnmatch.fnmatchcase(name, self.when):
            return False
        return all(get_path(message or {}, path) == value for path, value in self.where.items())


@dataclass(frozen=True)
class FaultSet:
    """A named fault for `--dut-fault NAME`: which role it is for and which rule it makes the DUT break."""

    name: str
    role: str  # "evse" | "pev": the role the faulty DUT plays
    faults: tuple[Fault, ...]
    requirement: str
    description: str
    config: Mapping[str, Any] = field(default_factory=dict)  # behaviour changes: overrides of the DUT's config

    def configure(self, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """`base` (an EvseConfig/PevConfig dict) with this set's overrides merged in, nested dicts included."""
        return _merge(dict(base or {}), self.config)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


class _Tracker:
    """Counts matches per fault and says whether this one is hit."""

    def __init__(self, faults: Iterable[Fault]) -> None:
        self.faults = list(faults)
        self.seen = [0] * len(self.faults)

    def hits(self, name: str, message: Mapping[str, Any] | None, state: str, schema: str) -> list[Fault]:
        out = []
        for index, fault in enumerate(self.faults):
            if not fault.matches(name, message, state, schema):
                continue
            self.seen[index] += 1
            count = self.seen[index]
            if count >= fault.nth and (fault.times is None or count < fault.nth + fault.times):
                out.append(fault)
        return out


class FaultInjector:
    """Wraps a message-level session machine; applies `faults` to what it sends (see module docstring)."""

    def __init__(self, inner: Any, faults: Iterable[Fault]) -> None:
        self.inner = inner
        self._tracker = _Tracker(faults)
        self._held: list[tuple[float, Any]] = []  # (release time, output), in order
        self.silenced = False
        self.fired: list[tuple[str, str]] = []  # (message, action) for reports and tests

    def __getattr__(self, name: str) -> Any:  # state, schema, result, done ... of the wrapped machine
        return getattr(self.inner, name)

    def next_deadline(self) -> float | None:
        times = [t for t, _ in self._held[:1]]
        inner = self.inner.next_deadline()
        if inner is not None:
            times.append(inner)
        return min(times) if times else None

    def handle(self, event: Any, now: float) -> list[Any]:
        out: list[Any] = []
        if isinstance(event, io.Tick):
            out += self._release(now)
            deadline = self.inner.next_deadline()
            if deadline is None or deadline > now:
                return out
        state_before = getattr(self.inner, "state", "")
        return out + self._filter(self.inner.handle(event, now), state_before, now)

    def _release(self, now: float) -> list[Any]:
        out = []
        while self._held and self._held[0][0] <= now:
            out.append(self._held.pop(0)[1])
        return out

    def _filter(self, outputs: list[Any], state: str, now: float) -> list[Any]:
        out: list[Any] = []
        for item in outputs:
            if self.silenced and isinstance(item, (SendMessage, CloseConnection)):
                continue
            if not isinstance(item, SendMessage):
                self._emit(out, item, now)
                continue
            name = name_of(item.message)
            emitted: list[Any] = [item]
            for fault in self._tracker.hits(name, item.message, state, item.schema):
                self.fired.append((name, fault.action))
                out.append(io.Notify("state", "fault", {"message": name, "action": fault.action,
                                                        "value": fault.value}))
                emitted = self._apply(fault, emitted, item, now)
            for thing in emitted:
                if isinstance(thing, tuple):  # delayed
                    self._held.append(thing)
                else:
                    self._emit(out, thing, now)
        return out

    def _emit(self, out: list[Any], item: Any, now: float) -> None:
        if self._held and isinstance(item, (SendMessage, CloseConnection)):
            self._held.append((self._held[-1][0], item))  # keep TCP order behind a delayed message
        else:
            out.append(item)

    def _apply(self, fault: Fault, emitted: list[Any], original: SendMessage, now: float) -> list[Any]:
        action = fault.action
        if action == "drop":
            return []
        if action == "silence":
            self.silenced = True
            return []
        if action == "close":
            return [CloseConnection(f"fault injected: close instead of {name_of(original.message)}")]
        if action == "delay":
            return [(now + float(fault.value), e) if isinstance(e, SendMessage) else e for e in emitted]
        if action == "duplicate":
            copies = int(fault.value or 2)
            return [e for e in emitted for _ in range(copies if isinstance(e, SendMessage) else 1)]
        changed = []
        for e in emitted:
            if not isinstance(e, SendMessage):
                changed.append(e)
                continue
            message = e.message
            if action == "response_code":
                path = "ResponseCode" if "V2G_Message" in message else f"{name_of(message)}.ResponseCode"
                message = set_path(message, path, fault.value)
            elif action == "set_field":
                for path, value in fault.value.items():
                    message = set_path(message, path, value)
            elif action == "out_of_sequence":
                name = str(fault.value)
                header = message["V2G_Message"]["Header"]
                message = {"V2G_Message": {"Header": dict(header),
                                           "Body": {name: template_body(e.schema, name)}}}
            changed.append(SendMessage(message, e.schema))
        return changed

    # ------------------------------------------------------------------ SDP

    def filter_datagram(self, name: str, fields: dict[str, Any], now: float) -> tuple[list[dict[str, Any]], float]:
        """Apply SDP faults (`SDP.REQ`/`SDP.RES`) to a datagram's fields; returns (copies to send, delay)."""
        if self.silenced:
            return [], 0.0
        copies, delay = [dict(fields)], 0.0
        for fault in self._tracker.hits(name, fields, "SDP", "sdp"):
            self.fired.append((name, fault.action))
            if fault.action in ("drop", "close"):
                copies = []
            elif fault.action == "silence":
                self.silenced, copies = True, []
            elif fault.action == "delay":
                delay += float(fault.value)
            elif fault.action == "duplicate":
                copies = copies * int(fault.value or 2)
            elif fault.action == "set_field":
                copies = [{**c, **fault.value} for c in copies]
        return copies, delay


def _f(when: str, action: str, value: Any = None, **kw: Any) -> Fault:
    return Fault(when, action, value, **kw)


_SETS = [
    # ---- a faulty charger (EVSE DUT): our PEV tester must notice
    FaultSet("evse-no-sdp-response", "evse", (_f("SDP.RES", "drop", times=None),), "V2G2-161",
             "never answers SECC Discovery Requests"),
    FaultSet("evse-sdp-tls-only", "evse", (_f("SDP.RES", "set_field", {"security": 0x00}, times=None),),
             "V2G-DC-618", "answers SDP with TLS although no TLS was asked (and DIN forbids it)"),
    FaultSet("evse-sdp-wrong-port", "evse", (_f("SDP.RES", "set_field", {"port": 1}, times=None),), "V2G2-156",
             "announces a TCP port nobody listens on"),
    FaultSet("evse-sap-no-negotiation", "evse",
             (_f("supportedAppProtocolRes", "set_field", {"supportedAppProtocolRes.ResponseCode":
                                                          "Failed_NoNegotiation",
                                                          "supportedAppProtocolRes.SchemaID": None}),),
             "V2G2-172", "refuses the handshake although it supports the offered protocol"),
    FaultSet("evse-session-setup-code", "evse", (_f("SessionSetupRes", "response_code", "OK"),), "V2G-DC-393",
             "answers a new session with OK instead of OK_NewSessionEstablished"),
    FaultSet("evse-session-id-zero", "evse",
             (_f("SessionSetupRes", "set_field", {"Header.SessionID": "0000000000000000"}),), "V2G2-756",
             "assigns the all-zero SessionID"),
    FaultSet("evse-session-id-changes", "evse",
             (_f("ServiceDiscoveryRes", "set_field", {"Header.SessionID": "0badc0ffee000001"}),),
             "ccs-hil:response-session-id", "answers with a SessionID other than the one it assigned"),
    FaultSet("evse-wrong-response", "evse", (_f("ServiceDiscoveryRes", "out_of_sequence", "SessionSetupRes"),),
             "ccs-hil:response-matches-request", "answers ServiceDiscoveryReq with a SessionSetupRes"),
    FaultSet("evse-duplicate-response", "evse", (_f("SessionSetupRes", "duplicate", 2),),
             "ccs-hil:response-matches-request", "sends SessionSetupRes twice (seen in the Ioniq capture)"),
    FaultSet("evse-failed-authorization", "evse", (_f("*Res", "response_code", "FAILED",
                                                      where={"EVSEProcessing": "Finished"}, times=1),),
             "V2G-DC-388", "answers a valid authorization request with FAILED"),
    FaultSet("evse-cable-check-silent", "evse", (_f("CableCheckRes", "silence"),), "V2G_EVCC_Msg_Timeout",
             "stops answering at CableCheck"),
    FaultSet("evse-cable-check-forever", "evse", (), "V2G_EVCC_CableCheck_Timeout",
             "never finishes the insulation test", config={"power": {"isolation_time": 1e9}}),
    FaultSet("evse-isolation-fault", "evse", (), "V2G-DC-418", "the insulation test fails (FAILED + Fault)",
             config={"power": {"isolation_result": "Fault"}}),
    FaultSet("evse-authorization-never", "evse", (), "V2G2-854", "EIM authorization never completes",
             config={"authorization_time": None}),
    FaultSet("evse-precharge-no-voltage", "evse",
             (_f("PreChargeRes", "set_field", {"EVSEPresentVoltage.Value": 0}, times=None),),
             "V2G_EVCC_PreCharge_Timeout", "reports 0 V during PreCharge (never reaches the target)"),
    FaultSet("evse-slow-current-demand", "evse", (_f("CurrentDemandRes", "delay", 0.3, nth=3),),
             "V2G_EVCC_Msg_Timeout", "answers the third CurrentDemandReq after 300 ms (limit 250 ms)"),
    FaultSet("evse-slow-charging-status", "evse", (_f("ChargingStatusRes", "delay", 2.5, nth=3),),
             "V2G_EVCC_Msg_Timeout", "answers the third ChargingStatusReq after 2.5 s (limit 2 s)"),
    FaultSet("evse-close-in-charge-loop", "evse", (_f("CurrentDemandRes", "close", nth=5),),
             "V2G-DC-465", "drops the TCP connection in the charge loop"),
    FaultSet("evse-accepts-sequence-error", "evse",
             (_f("*Res", "response_code", "OK", where={"ResponseCode": "FAILED_SequenceError"}, times=None),),
             "V2G2-538", "answers an out-of-sequence request with OK instead of FAILED_SequenceError"),
    FaultSet("evse-accepts-unknown-session", "evse",
             (_f("*Res", "response_code", "OK", where={"ResponseCode": "FAILED_UnknownSession"}, times=None),),
             "V2G2-460", "answers a request with a foreign SessionID with OK"),
    FaultSet("evse-welding-voltage-stuck", "evse",
             (_f("WeldingDetectionRes", "set_field", {"EVSEPresentVoltage.Value": 400,
                                                      "EVSEPresentVoltage.Multiplier": 0}, times=None),),
             "V2G2-620", "reports full voltage during WeldingDetection (contactor welded)"),
    FaultSet("evse-session-stop-silent", "evse", (_f("SessionStopRes", "drop"),), "V2G-DC-450",
             "does not answer SessionStopReq"),
    # ---- a faulty car (PEV DUT): our EVSE tester must notice
    FaultSet("pev-wrong-session-id", "pev",
             (_f("ServiceDiscoveryReq", "set_field", {"Header.SessionID": "0badc0ffee000002"}),), "V2G2-460",
             "uses a SessionID other than the assigned one"),
    FaultSet("pev-skip-cable-check", "pev", (_f("CableCheckReq", "out_of_sequence", "PreChargeReq"),),
             "V2G-DC-453", "sends PreChargeReq where CableCheckReq is due"),
    FaultSet("pev-skip-session-setup", "pev", (_f("SessionSetupReq", "out_of_sequence", "ServiceDiscoveryReq"),),
             "V2G2-541", "starts with ServiceDiscoveryReq instead of SessionSetupReq"),
    FaultSet("pev-contract-payment", "pev",
             (_f("ServicePaymentSelectionReq", "set_field", {"SelectedPaymentOption": "Contract"}),
              _f("PaymentServiceSelectionReq", "set_field", {"SelectedPaymentOption": "Contract"})),
             "V2G-DC-395", "selects Contract payment, which was not offered"),
    FaultSet("pev-no-charge-service", "pev",
             (_f("PaymentServiceSelectionReq", "set_field",
                 {"SelectedServiceList": {"SelectedService": [{"ServiceID": 7}]}}),
              _f("ServicePaymentSelectionReq", "set_field",
                 {"SelectedServiceList": {"SelectedService": [{"ServiceID": 7}]}})),
             "V2G2-804", "selects a service that is not the charge service"),
    FaultSet("pev-wrong-energy-mode", "pev",
             (_f("ChargeParameterDiscoveryReq", "set_field", {"EVRequestedEnergyTransferType": "AC_single_phase_core"},
                 schema="din"),
              _f("ChargeParameterDiscoveryReq", "set_field", {"RequestedEnergyTransferMode": "DC_unique"},
                 schema="iso2")),
             "V2G2-476", "requests an energy transfer mode that was not offered"),
    FaultSet("pev-wrong-tuple", "pev", (_f("PowerDeliveryReq", "set_field", {"SAScheduleTupleID": 9},
                                           schema="iso2"),
                                        _f("PowerDeliveryReq", "set_field", {"ChargingProfile.SAScheduleTupleID": 9},
                                           schema="din")),
             "V2G2-479", "starts power delivery with a schedule that was not offered"),
    FaultSet("pev-silent-after-precharge", "pev", (_f("PowerDeliveryReq", "silence"),), "V2G2-443",
             "stops sending requests after PreCharge"),
    FaultSet("pev-close-in-charge-loop", "pev", (_f("CurrentDemandReq", "close", nth=5),), "V2G2-593",
             "drops the TCP connection in the charge loop instead of stopping"),
    FaultSet("pev-no-sdp", "pev", (_f("SDP.REQ", "drop", times=None),), "V2G2-139",
             "never sends an SECC Discovery Request"),
    FaultSet("pev-sdp-udp", "pev", (_f("SDP.REQ", "set_field", {"transport": 0x10}, times=None),), "V2G2-623",
             "asks for UDP transport in SDP"),
]
FAULT_SETS: dict[str, FaultSet] = {s.name: s for s in _SETS}


def fault_set(name: str) -> FaultSet:
    try:
        return FAULT_SETS[name]
    except KeyError:
        raise KeyError(f"unknown fault set {name!r}; known: {', '.join(sorted(FAULT_SETS))}") from None
