"""Read a timeline (records) the way a CCS test engineer reads a trace: who sent what, request/response pairs and
their response times, the control pilot over time, the power loop values, the DUT's identity and the violation.

Everything here reads records only (never sockets, never the stack's state), so a test timeline from any rig and
a decoded field capture go through the same code.

Violations the report highlights (the contract with the assertion helpers, documented in docs/reports.md):
- a `test` record named `violation` (or `assertion failed`), or the skeleton's `assert` record with
  `outcome: fail` — `body` may carry `requirement` (or `requirements`, a list), `message` (or `detail`: one
  sentence) and `ref` (index of the offending record in the timeline) or `ref_t` (its time);
- any record with an extra key `violation` (true, or the requirement ID);
- a `state` record whose body carries a `requirement` (our stack saw the peer break a rule:
  `RemoteProtocolError` turned into a Notify);
- records with `error` (undecodable bytes) are flagged as errors, drawn alike but in another colour.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness import checks
from harness.capture.parties import SLAC_SENDER
from harness.records import Record
from reports import limits
from reports.model import DutInfo
from stack.timers import SpecTimer

ROLES = ("pev", "evse")

# HomePlug MMTYPE -> name (REQ/CNF/IND/RSP = low two bits 0/1/2/3), from ../shared/PROTOCOL.md §A.2
_MME_BASES = {0x6008: "CM_SET_KEY", 0x600C: "CM_GET_KEY", 0x601C: "CM_AMP_MAP", 0x6064: "CM_SLAC_PARM",
              0x6068: "CM_START_ATTEN_CHAR", 0x606C: "CM_ATTEN_CHAR", 0x6070: "CM_PKCS_CERT",
              0x6074: "CM_MNBC_SOUND", 0x6078: "CM_VALIDATE", 0x607C: "CM_SLAC_MATCH", 0x6080: "CM_SLAC_USER_DATA",
              0x6084: "CM_ATTEN_PROFILE", 0xA000: "VS_SW_VER", 0xA14C: "VS_ATTENUATION_CHARACTERISTICS"}
_MME_SUFFIX = (".REQ", ".CNF", ".IND", ".RSP")
# who sends which SLAC message (ISO 15118-3): the car starts, the charger answers (one table, with the decoder's)
_MME_SENDER = SLAC_SENDER
# nominal CP levels (positive half, volts) per IEC 61851-1 state, for records that carry only the letter
CP_LEVELS = {"A": 12.0, "B": 9.0, "C": 6.0, "D": 3.0, "E": 0.0, "F": -12.0}


def mme_name(mmtype: int) -> str:
    base = mmtype & ~0x3
    if base in _MME_BASES:
        return _MME_BASES[base] + _MME_SUFFIX[mmtype & 0x3]
    return f"MME 0x{mmtype:04x}"


def message_name(record: Record) -> str:
    """The name a person expects: `CM_SLAC_PARM.REQ` even if the describer only knew `MME 0x6064`."""
    if record.layer == "homeplug" and record.mmtype is not None and record.name.startswith("MME 0x"):
        return mme_name(record.mmtype)
    return record.name


def exi_message(record: Record) -> dict[str, Any]:
    """The message element's content (`{"EVCCID": ...}` of SessionSetupReq), whatever root the body uses."""
    body = record.body
    if not isinstance(body, dict):
        return {}
    if "V2G_Message" in body and isinstance(body["V2G_Message"], dict):
        inner = body["V2G_Message"].get("Body")
        if isinstance(inner, dict):
            content = inner.get(record.name)
            if isinstance(content, dict):
                return content
            if len(inner) == 1:
                only = next(iter(inner.values()))
                return only if isinstance(only, dict) else {}
        return {}
    content = body.get(record.name)
    if isinstance(content, dict):
        return content
    return body


def find_key(obj: Any, key: str) -> Any:
    """First value under `key` anywhere in a nested dict/list (depth first), or None."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for value in obj.values():
            found = find_key(value, key)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for value in obj:
            found = find_key(value, key)
            if found is not None:
                return found
    return None


def physical(value: Any) -> float | None:
    """DIN/ISO-2 PhysicalValueType {Multiplier, Unit, Value}, ISO-20 RationalNumber {Exponent, Value}, or a plain
    number, as a float in the base unit."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict) and "Value" in value:
        try:
            raw = float(value["Value"])
            exponent = int(value.get("Multiplier", value.get("Exponent", 0)) or 0)
        except (TypeError, ValueError):
            return None
        return raw * (10.0 ** exponent)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# --------------------------------------------------------------------------- sides


def _address(value: str | None) -> str | None:
    """`[fe80::1]:15118` -> `fe80::1`; MACs lower-cased."""
    if not value:
        return None
    text = str(value)
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    return text.lower()


def natural_sender(record: Record) -> str | None:
    """The role that sends this message by protocol rule (a Req comes from the car), or None."""
    name = message_name(record)
    if record.layer == "exi":
        if name.endswith("Req"):
            return "pev"
        if name.endswith("Res"):
            return "evse"
    elif record.layer == "sdp":
        return {"SDP.REQ": "pev", "SDP.RES": "evse"}.get(name)
    elif record.layer == "homeplug" and record.mmtype is not None:
        return _MME_SENDER.get(record.mmtype)
    return None


@dataclass
class Sides:
    """Decides which side (car or charger) each record belongs to, for lanes and arrows.

    With a DUT role and `dir` on the record, that is exact. Otherwise (captures, records without `dir`) the
    sender is inferred from the protocol (requests come from the car) and the addresses learnt from those."""

    dut_role: str | None = None
    by_address: dict[str, str] = field(default_factory=dict)

    @classmethod
    def learn(cls, records: Iterable[Record], dut_role: str | None = None) -> Sides:
        records = list(records)
        sides = cls(dut_role if dut_role in ROLES else None)
        for record in records:
            role = natural_sender(record)
            if role is None and sides.dut_role and record.dir in ("to_dut", "from_dut"):
                role = sides.dut_role if record.dir == "from_dut" else sides.other(sides.dut_role)
            if role is None:
                continue
            src, dst = _address(record.src), _address(record.dst)
            if src and src not in sides.by_address:
                sides.by_address[src] = role
            if dst and dst not in sides.by_address and not _is_group(dst):
                sides.by_address[dst] = sides.other(role)
        # a host's own modem is on the host's side (SET_KEY.CNF from the modem names it)
        for record in records:
            if not sides.is_local(record):
                continue
            src, dst = _address(record.src), _address(record.dst)
            if src in sides.by_address and dst and not _is_group(dst):
                sides.by_address.setdefault(dst, sides.by_address[src])
            elif dst in sides.by_address and src and not _is_group(src):
                sides.by_address.setdefault(src, sides.by_address[dst])
        return sides

    @staticmethod
    def other(role: str) -> str:
        return "evse" if role == "pev" else "pev"

    @property
    def tester_role(self) -> str | None:
        return self.other(self.dut_role) if self.dut_role else None

    def sender(self, record: Record) -> str | None:
        if self.dut_role and record.dir == "from_dut":
            return self.dut_role
        if self.dut_role and record.dir == "to_dut":
            return self.other(self.dut_role)
        if record.src in ROLES:
            return record.src
        if isinstance(record.body, dict) and record.body.get("role") in ROLES and record.layer == "state":
            return record.body["role"]  # a state machine saying which role it plays
        role = natural_sender(record)
        if role:
            return role
        src = _address(record.src)
        if src and src in self.by_address:
            return self.by_address[src]
        dst = _address(record.dst)
        if dst and dst in self.by_address and record.layer not in ("cp", "state", "test"):
            return self.other(self.by_address[dst])
        if record.extra.get("party") == "dut" and self.dut_role:
            return self.dut_role
        return None

    def is_local(self, record: Record) -> bool:
        """A frame between a host and its own modem (SET_KEY, attenuation profiles): no arrow to the other side."""
        if record.layer != "homeplug" or record.dir is not None:
            return False
        return record.mmtype is None or record.mmtype not in _MME_SENDER


def _is_group(address: str) -> bool:
    return address.startswith("ff") or address in ("ff:ff:ff:ff:ff:ff",) or address.startswith("33:33:")


# --------------------------------------------------------------------------- violations


@dataclass(frozen=True)
class Violation:
    index: int  # record index highlighted (in the full record list, meta record = 0)
    requirement: str | None
    message: str
    kind: str = "violation"  # violation | error


def violations(records: list[Record]) -> list[Violation]:
    found: list[Violation] = []
    for index, record in enumerate(records):
        body = record.body if isinstance(record.body, dict) else {}
        failed_assert = record.layer == "test" and record.name == "assert" and body.get("outcome") == "fail"
        if (record.layer == "test" and record.name in ("violation", "assertion failed")) or failed_assert:
            target = index
            ref = body.get("ref")
            if isinstance(ref, int) and 0 < ref < len(records):
                target = ref
            elif isinstance(body.get("ref_t"), (int, float)):
                target = _index_at(records, float(body["ref_t"]), before=index) or index
            requirement = body.get("requirement")
            if requirement is None and body.get("requirements"):
                requirement = ", ".join(str(r) for r in body["requirements"])
            found.append(Violation(target, requirement, str(body.get("message") or body.get("detail") or
                                                            record.error or "assertion failed")))
        elif record.extra.get("violation"):
            mark = record.extra["violation"]
            found.append(Violation(index, mark if isinstance(mark, str) else body.get("requirement"),
                                   str(body.get("message") or record.error or message_name(record))))
        elif record.layer == "state" and body.get("requirement"):
            found.append(Violation(index, str(body["requirement"]), str(body.get("message") or body.get("why") or
                                                                        record.name)))
        elif record.error:
            found.append(Violation(index, None, f"{message_name(record)}: {record.error}", kind="error"))
    return found


def _index_at(records: list[Record], t: float, before: int) -> int | None:
    best = None
    for index in range(1, before):
        if records[index].layer != "test" and records[index].t <= t + 1e-9:
            best = index
    return best


def failure_from_timeline(records: list[Record]) -> tuple[str | None, str] | None:
    """The requirement and sentence the timeline's own violation record states (first real violation wins)."""
    for violation in violations(records):
        if violation.kind == "violation":
            return violation.requirement, violation.message
    return None


# --------------------------------------------------------------------------- response times


@dataclass
class Exchange:
    request: int  # record indexes
    response: int
    name: str  # request name
    response_name: str
    t: float  # time of the request
    seconds: float
    limit: SpecTimer | None
    responder: str | None  # role that answered

    @property
    def ok(self) -> bool:
        return self.limit is None or self.seconds <= self.limit.seconds + 1e-9


def _pair_key(record: Record) -> tuple[str, str, bool] | None:
    """(layer, stem, is_request) for messages that come in request/response pairs."""
    name = message_name(record)
    if record.layer == "exi":
        if name.endswith("Req"):
            return ("exi", name[:-3], True)
        if name.endswith("Res"):
            return ("exi", name[:-3], False)
    elif record.layer == "sdp" and name in ("SDP.REQ", "SDP.RES"):
        return ("sdp", "SDP", name == "SDP.REQ")
    elif record.layer == "homeplug" and record.mmtype is not None:
        kind = record.mmtype & 0x3
        if kind in (0, 2):  # REQ, IND
            return ("homeplug", f"{record.mmtype:04x}", True)
        return ("homeplug", f"{record.mmtype - 1:04x}", False)  # CNF answers REQ, RSP answers IND
    return None


def exchanges(records: list[Record], sides: Sides | None = None) -> list[Exchange]:
    """Request → response pairs with the time between them. A retried request is measured from its last send."""
    sides = sides or Sides.learn(records)
    pending: dict[tuple[str, str], int] = {}
    out: list[Exchange] = []
    for index, record in enumerate(records):
        if index == 0 or record.error:
            continue
        key = _pair_key(record)
        if key is None:
            continue
        layer, stem, is_request = key
        if is_request:
            pending[(layer, stem)] = index
            continue
        start = pending.pop((layer, stem), None)
        if start is None:
            continue
        request = records[start]
        out.append(Exchange(start, index, message_name(request), message_name(record), request.t,
                            max(0.0, record.t - request.t), _limit(request), sides.sender(record)))
    return out


def _limit(request: Record) -> SpecTimer | None:
    own = request.extra.get("limit")
    if isinstance(own, (int, float)):
        return SpecTimer(str(request.extra.get("limit_name") or f"limit for {request.name}"), float(own))
    if request.layer == "exi":
        return limits.exi_limit(request.schema, request.name)
    if request.layer == "sdp":
        return limits.sdp_limit()
    if request.layer == "homeplug" and request.mmtype is not None:
        return limits.homeplug_limit(request.mmtype)
    return None


@dataclass
class ExchangeStats:
    name: str
    count: int
    minimum: float
    median: float
    maximum: float
    limit: SpecTimer | None
    over_limit: int
    responder: str | None


def exchange_stats(found: list[Exchange]) -> list[ExchangeStats]:
    groups: dict[str, list[Exchange]] = {}
    for item in found:
        groups.setdefault(item.name, []).append(item)
    out = []
    for name, items in groups.items():
        values = [i.seconds for i in items]
        out.append(ExchangeStats(name, len(items), min(values), statistics.median(values), max(values),
                                 items[0].limit, sum(not i.ok for i in items), items[0].responder))
    return out


# --------------------------------------------------------------------------- control pilot


@dataclass(frozen=True)
class CpSample:
    t: float
    volts: float | None
    duty: float | None  # percent; None = no PWM (DC level)
    state: str | None
    source: str  # the record name it came from


def cp_samples(records: Iterable[Record]) -> list[CpSample]:
    """CP level and PWM over time. Observed states carry volts; generator actions carry duty; a load switch says
    which state the car asked for. Each sample carries forward what it does not change."""
    out: list[CpSample] = []
    volts: float | None = None
    duty: float | None = None
    state: str | None = None
    for record in records:
        if record.layer != "cp":
            continue
        body = record.body if isinstance(record.body, dict) else {}
        new_state = body.get("state") or (record.name.split()[-1] if record.name.startswith("state ") else None)
        if record.name == "oscillator":
            duty = _num(body.get("duty"))
            if body.get("state") in ("E", "F"):
                state = body["state"]
                volts = CP_LEVELS[state]
        elif record.name == "load":
            if new_state in CP_LEVELS and (state is None or state not in ("E", "F")):
                state = new_state
                volts = CP_LEVELS[state]
        else:
            if "duty" in body or record.name.startswith("state "):
                duty = _num(body.get("duty")) if "duty" in body else duty
            if new_state in CP_LEVELS:
                state = new_state
            measured = _num(body.get("volts"))
            volts = measured if measured is not None else (CP_LEVELS.get(state) if state else volts)
        out.append(CpSample(record.t, volts, duty, state, record.name))
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- power loop


@dataclass
class PowerPoint:
    t: float
    phase: str  # PreCharge | CurrentDemand | DC_ChargeLoop | …
    values: dict[str, float]
    flags: dict[str, bool] = field(default_factory=dict)  # EVSE*LimitAchieved


# the values drawn, by the element names DIN 70121 / ISO 15118-2 / -20 use
POWER_KEYS = ("EVTargetVoltage", "EVTargetCurrent", "EVSEPresentVoltage", "EVSEPresentCurrent",
              "EVSEMaximumVoltageLimit", "EVSEMaximumCurrentLimit", "EVSEMaximumPowerLimit",
              "EVMaximumVoltageLimit", "EVMaximumCurrentLimit", "EVMaximumPowerLimit")
POWER_PHASES = ("PreCharge", "CurrentDemand", "DC_PreCharge", "DC_ChargeLoop")


def power_points(records: Iterable[Record]) -> list[PowerPoint]:
    out = []
    for record in records:
        if record.layer != "exi":
            continue
        stem = record.name[:-3]
        if stem not in POWER_PHASES or record.name[-3:] not in ("Req", "Res"):
            continue
        content = exi_message(record)
        values = {}
        for key in POWER_KEYS:
            value = physical(find_key(content, key))
            if value is not None:
                values[key] = value
        flags = {}
        for key in ("EVSECurrentLimitAchieved", "EVSEPowerLimitAchieved", "EVSEVoltageLimitAchieved"):
            value = find_key(content, key)
            if value is not None:
                flags[key] = value in (True, 1, "1", "true", "True")
        if values or flags:
            out.append(PowerPoint(record.t, stem, values, flags))
    return out


def limiting_side(points: list[PowerPoint]) -> tuple[str, str] | None:
    """During current demand, who holds the power down — decided per exchange by `harness.checks.attribute`, the
    rule the catalogue's `assert_power_limited_by` and `ccs-hil analyse` use: ("pev", why) when the charger
    delivers what the EV asks below its own maxima, ("evse", why) when the charger's maximum current or power, a
    limit it reports, or its failure to deliver holds the current down. The majority over the loop wins (a ramp
    only when there is nothing else). None when there is no current demand."""
    values: dict[str, float | None] = {}
    samples: list[checks.PowerSample] = []
    previous: checks.PowerSample | None = None
    for point in points:
        if point.phase not in ("CurrentDemand", "DC_ChargeLoop"):
            continue
        values.update(point.values)
        if "EVSEPresentCurrent" not in point.values:
            continue  # a request: its target and the EV's limits are remembered
        sample = checks.PowerSample(point.t, 0, 1, values.get("EVTargetVoltage"), values.get("EVTargetCurrent"),
                                    point.values.get("EVSEPresentVoltage"), point.values["EVSEPresentCurrent"],
                                    values.get("EVSEMaximumCurrentLimit"), values.get("EVSEMaximumPowerLimit"),
                                    values.get("EVSEMaximumVoltageLimit"), values.get("EVMaximumCurrentLimit"),
                                    values.get("EVMaximumPowerLimit"), values.get("EVMaximumVoltageLimit"),
                                    flags=tuple(name for name, on in point.flags.items() if on))
        sample.limiter, sample.reason = checks.attribute(sample, previous)
        previous = sample
        samples.append(sample)
    verdict = checks.power_verdict(samples)
    if verdict is None or verdict.limiter == "unknown":
        return None
    flags = sorted({f for s in samples if s.reason == verdict.reason for f in s.flags})
    return ("pev" if verdict.limiter == "ev" else "evse"), checks.reason_text(verdict.reason, flags)


# --------------------------------------------------------------------------- identity


def identify_dut(records: list[Record], dut_role: str | None) -> DutInfo:
    """What the DUT said about itself: EVCCID / EVSEID, the negotiated protocol, modem firmware, its MACs."""
    info = DutInfo(role=dut_role)
    sides = Sides.learn(records, dut_role)
    offered: dict[Any, str] = {}
    for record in records:
        if record.layer == "exi":
            content = exi_message(record)
            if record.name == "SessionSetupReq" and dut_role in (None, "pev"):
                _add(info.evccid, find_key(content, "EVCCID"))
            elif record.name == "SessionSetupRes" and dut_role in (None, "evse"):
                _add(info.evseid, find_key(content, "EVSEID"))
            elif record.name == "supportedAppProtocolReq":
                entries = find_key(content, "AppProtocol") or []
                for entry in entries if isinstance(entries, list) else [entries]:
                    if isinstance(entry, dict):
                        offered[entry.get("SchemaID")] = _protocol_label(entry)
            elif record.name == "supportedAppProtocolRes":
                schema_id = find_key(content, "SchemaID")
                if schema_id in offered:
                    _add(info.protocols, offered[schema_id])
                elif schema_id is not None:
                    _add(info.protocols, f"SchemaID {schema_id}")
        elif record.layer in ("homeplug", "state"):
            body = record.body if isinstance(record.body, dict) else {}
            for key in ("firmware", "sw_version", "version", "Version", "DeviceVersion"):
                value = body.get(key)
                if isinstance(value, str) and value and (record.layer == "homeplug" or "modem" in record.name):
                    if dut_role is None or sides.sender(record) in (dut_role, None):
                        _add(info.modem_firmware, value)
                    break
        if record.layer == "homeplug" and dut_role and sides.sender(record) == dut_role and record.src and \
                not sides.is_local(record):
            _add(info.macs, _address(record.src))
    return info


def _protocol_label(entry: dict[str, Any]) -> str:
    namespace = entry.get("ProtocolNamespace", "?")
    major, minor = entry.get("VersionNumberMajor"), entry.get("VersionNumberMinor")
    return f"{namespace} v{major}.{minor}" if major is not None else str(namespace)


def _add(target: list[str], value: Any) -> None:
    if value is None or value == "":
        return
    text = str(value)
    if text not in target:
        target.append(text)


# --------------------------------------------------------------------------- labels


def detail(record: Record) -> str:
    """A few words that matter next to a message name: a non-OK response code, Ongoing, the loop values."""
    if record.error:
        return f"ERROR: {record.error}"
    if record.layer == "exi":
        content = exi_message(record)
        parts = []
        code = content.get("ResponseCode") if isinstance(content, dict) else None
        if isinstance(code, str) and not code.startswith("OK"):
            parts.append(code)
        processing = find_key(content, "EVSEProcessing")
        if processing == "Ongoing":
            parts.append("Ongoing")
        ready = find_key(content, "ReadyToChargeState")
        if ready is None:
            ready = find_key(content, "ChargeProgress")
        if ready is not None and record.name.startswith("PowerDelivery"):
            parts.append(str(ready) if isinstance(ready, str) and not ready.isdigit() else
                         f"ReadyToChargeState={str(ready in (True, 1, '1', 'true')).lower()}")
        for key, unit in (("EVTargetVoltage", "V"), ("EVTargetCurrent", "A"), ("EVSEPresentVoltage", "V"),
                          ("EVSEPresentCurrent", "A")):
            value = physical(find_key(content, key))
            if value is not None:
                parts.append(f"{value:g} {unit}")
        return " ".join(parts)
    if record.layer == "test":
        body = record.body if isinstance(record.body, dict) else {}
        text = body.get("what") or body.get("message") or body.get("detail") or ""
        outcome = body.get("outcome")
        return f"{outcome}: {text}" if outcome and text else str(outcome or text)
    if record.layer == "cp":
        body = record.body if isinstance(record.body, dict) else {}
        bits = []
        if body.get("duty") is not None:
            bits.append(f"PWM {float(body['duty']):g} %")
        elif record.name == "oscillator":
            bits.append("DC (no PWM)")
        if body.get("volts") is not None:
            bits.append(f"{float(body['volts']):g} V")
        return " ".join(bits)
    return ""


def iter_indexed(records: list[Record]) -> Iterator[tuple[int, Record]]:
    return ((i, r) for i, r in enumerate(records) if i > 0)
