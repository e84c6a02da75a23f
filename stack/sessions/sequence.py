"""Role-agnostic message sequence tables: which request may follow which exchange, and which timer guards it.

As in h11's `_state.py`, every rule is data in one place, and the table does not know which role consults it:
the SECC checks each incoming request against it (a violation is the EV's fault: FAILED_SequenceError), the EVCC
checks each request it is about to send (a violation would be our bug) and each response it gets.

A *state* names the last completed exchange, qualified by what its response said: `CableCheck.Ongoing`,
`PowerDelivery.Stop.DC`, `ChargeParameterDiscovery.Finished.Renegotiation`. Lookups try the most specific key
first (`PowerDelivery.Start.DC`, then `PowerDelivery.Start`), so tables only spell out the distinctions that matter.
The standard tables live in `din70121.py` and `iso15118_2.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stack.errors import ProtocolError
from stack.timers import SpecTimer

INITIAL = "Start"  # nothing exchanged yet on this connection
FAILED = "Failed"  # a FAILED_* response ended the session
RESPONSE_MATCHES_REQUEST = "ccs-hil:response-matches-request"  # our own ID: no public one found


@dataclass(frozen=True)
class Pair:
    """One request/response pair: the EVCC's response timeout, and the bound on a whole ↻ loop of it."""

    name: str
    timeout: SpecTimer
    loop: SpecTimer | None = None


@dataclass(frozen=True)
class Allowed:
    next: frozenset[str]
    requirement: str


def allowed(*names: str, requirement: str) -> Allowed:
    return Allowed(frozenset(names), requirement)


@dataclass
class SequenceContext:
    """What a qualifier needs beyond one exchange: the energy transfer (known from ChargeParameterDiscovery) and
    whether a renegotiation is under way (ISO 15118-2 PowerDelivery(Renegotiate) until PowerDelivery(Start))."""

    energy: str | None = None  # "AC" | "DC"
    renegotiating: bool = False


class SequenceViolation(ProtocolError):
    """A request that the table does not allow after `state` (whose fault it is depends on who sent it)."""

    def __init__(self, state: str, request: str, expected: frozenset[str], requirement: str) -> None:
        self.state, self.request, self.expected = state, request, expected
        wanted = ", ".join(sorted(f"{name}Req" for name in expected)) or "nothing (session over)"
        self.detail = f"{request}Req after {state}; allowed: {wanted}"
        super().__init__(self.detail, requirement)


@dataclass(frozen=True)
class SequenceTable:
    standard: str  # "din" | "iso2"
    pairs: Mapping[str, Pair]
    after: Mapping[str, Allowed]
    handshake: Pair  # supportedAppProtocol, guarded by its own timer
    communication_setup: SpecTimer  # EVCC: TCP up -> SessionSetupRes
    sequence_timeout: SpecTimer  # SECC: response sent -> next request
    extra_timers: Mapping[str, SpecTimer] = field(default_factory=dict)

    def lookup(self, state: str) -> Allowed:
        key = state
        while True:
            if key in self.after:
                return self.after[key]
            if "." not in key:
                raise KeyError(f"{self.standard}: no sequence rule for state {state!r}")
            key = key.rsplit(".", 1)[0]

    def allowed_after(self, state: str) -> frozenset[str]:
        return self.lookup(state).next

    def check(self, state: str, pair: str) -> None:
        """Raise `SequenceViolation` (carrying the requirement of the rule) if `pair` may not follow `state`."""
        rule = self.lookup(state)
        if pair not in rule.next:
            raise SequenceViolation(state, pair, rule.next, rule.requirement)

    def timeout(self, pair: str) -> SpecTimer:
        return self.pairs[pair].timeout

    def outcome(self, pair: str, request: Mapping[str, Any], response: Mapping[str, Any],
                context: SequenceContext) -> str:
        """The state after a completed exchange (request and response bodies), updating `context`."""
        code = str(response.get("ResponseCode", "OK"))
        if code.startswith("FAILED"):
            return FAILED
        if pair == "ChargeParameterDiscovery":
            context.energy = energy_of(request) or context.energy
        state = pair
        processing = response.get("EVSEProcessing")
        if processing is not None:
            state += ".Finished" if processing == "Finished" else ".Ongoing"
        if pair == "PowerDelivery":
            progress = request.get("ChargeProgress")
            if progress is None:  # DIN: ReadyToChargeState
                progress = "Start" if request.get("ReadyToChargeState") in (True, "true", 1) else "Stop"
            state += f".{progress}"
            if progress == "Renegotiate":
                context.renegotiating = True
            elif progress == "Start":
                context.renegotiating = False
        elif pair in ("PaymentServiceSelection", "ServicePaymentSelection"):
            state += f".{request.get('SelectedPaymentOption', 'ExternalPayment')}"
        elif pair in ("CurrentDemand", "ChargingStatus") and response.get("ReceiptRequired") in (True, "true", 1):
            state += ".Receipt"
        if pair == "ChargeParameterDiscovery" and processing == "Finished" and context.renegotiating:
            return state + ".Renegotiation"
        if context.energy and (pair in ("PowerDelivery", "MeteringReceipt")
                               or (pair == "ChargeParameterDiscovery" and processing == "Finished")):
            state += f".{context.energy}"
        return state


def energy_of(charge_parameter_request: Mapping[str, Any]) -> str | None:
    """AC or DC, from a ChargeParameterDiscoveryReq body (ISO-2 RequestedEnergyTransferMode, DIN ...Type)."""
    mode = charge_parameter_request.get("RequestedEnergyTransferMode") or charge_parameter_request.get(
        "EVRequestedEnergyTransferType")
    if isinstance(mode, str):
        return "AC" if mode.startswith("AC") else "DC"
    if "AC_EVChargeParameter" in charge_parameter_request:
        return "AC"
    if "DC_EVChargeParameter" in charge_parameter_request:
        return "DC"
    return None
