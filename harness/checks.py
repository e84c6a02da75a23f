"""Checks over records, shared by the test catalogue and `ccs-hil analyse`: one implementation, two users.

Each check reads a list of records (a test timeline or a decoded capture — the same format) and returns what it
found; the `assert_*` wrappers turn findings into a failed assertion that names the requirement and shows the
timeline slice (`harness.assertions.fail_with_timeline`). The rules come from the stack, never from a copy:

- response times: each request paired with its response and measured against the limit the requester waits with
  — the `SequenceTable` timers of `stack.sessions` (V2G_EVCC_Msg_Timeout per message, DIN 70121 Table 75 /
  ISO 15118-2 Table 109), `stack.sdp.SDP_REQ`, and the SLAC timers of `stack.homeplug.timers`
  (TT_match_response; TT_modem_response for host↔modem management messages);
- sequence: the requests replayed through the same `SequenceTable` the SECC and EVCC machines consult, per TCP
  connection, plus the response-matches-request and SessionID rules the SECC applies;
- SLAC RunID echo: every answer in a matching echoes the RunID of the car's CM_SLAC_PARM.REQ (ISO 15118-3);
- power-limit attribution: during CurrentDemand, who holds the current below the EV's target.

Records need `layer`, `name`, `t` and, where they apply, `body`, `mmtype`, `src`, `dst`, `schema`, and `conn`
(captures) — test timelines without `conn` are treated as one connection that restarts at each
supportedAppProtocolReq.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.records import Record, Timeline
from stack import sdp
from stack.homeplug import timers as slac_timers
from stack.sessions import din70121, iso15118_2
from stack.sessions.messages import pair_of
from stack.sessions.sequence import (
    FAILED,
    INITIAL,
    RESPONSE_MATCHES_REQUEST,
    SequenceContext,
    SequenceTable,
    SequenceViolation,
)
from stack.timers import SpecTimer

TABLES: dict[str, SequenceTable] = {"din": din70121.TABLE, "iso2": iso15118_2.TABLE}
RUNID_ECHO = "CCSHIL-SLAC-RUNID"  # ISO 15118-3: answers carry the RunID of CM_SLAC_PARM.REQ (no public ID found)
UNKNOWN_SESSION = {"din": "V2G-DC-391", "iso2": "V2G2-460"}  # as stack/sessions/secc.py cites them
REQUEST_BEFORE_RESPONSE = "V2G2-538"

# ISO 15118-20 has no session table in the stack yet: its message timeouts (ISO 15118-20 Table 220 via Josev)
_ISO20 = "ISO 15118-20:2022 Table 220; [Josev] messages/timeouts.py"
_ISO20_SPECIAL = {"AC_ChargeLoop": 0.5, "DC_ChargeLoop": 0.5, "ServiceDetail": 5.0, "CertificateInstallation": 5.0}

# HomePlug requests and the timer their sender waits with (REQ→CNF, IND→RSP)
_SLAC_REQUESTS = {0x6064, 0x606E, 0x6078, 0x607C}  # SLAC_PARM.REQ, ATTEN_CHAR.IND, VALIDATE.REQ, SLAC_MATCH.REQ
_HOMEPLUG_RESPONSE_TO_IND = {0x606E: 0x606F}


@dataclass(frozen=True)
class Finding:
    """One thing a check found: which rule, the requirement it stands for, one sentence, and where."""

    rule: str  # response-time | unanswered | sequence | session-id | runid-echo | error-code | power
    requirement: str | None
    message: str
    index: int | None = None  # index of the offending record in the list the check was given
    t: float | None = None


# --------------------------------------------------------------------------- limits


def _table_for(schema: str | None) -> SequenceTable | None:
    return TABLES.get(schema or "")


def response_limit(request: Record) -> SpecTimer | None:
    """How long the requester of `request` waits for the answer, by the stack's own timers."""
    if request.layer == "exi":
        name = request.name
        if name == "supportedAppProtocolReq":
            return din70121.TABLE.handshake.timeout  # DIN and ISO-2 agree: 2 s
        stem = pair_of(name)
        table = _table_for(request.schema)
        if table is not None:
            return table.pairs[stem].timeout if stem in table.pairs else None
        if (request.schema or "").startswith("iso20"):
            return SpecTimer(f"V2G_EVCC_Msg_Timeout({name})", _ISO20_SPECIAL.get(stem, 2.0), _ISO20)
        return None
    if request.layer == "sdp":
        return sdp.SDP_REQ
    if request.layer == "homeplug" and request.mmtype is not None:
        if request.mmtype in _SLAC_REQUESTS:
            return slac_timers.TT_match_response
        if request.mmtype & 0x3 == 0 and (0x6000 <= request.mmtype < 0x6060 or request.mmtype >= 0xA000):
            return slac_timers.TT_modem_response  # host↔modem management (SET_KEY, GET_KEY, VS_*)
    return None


# --------------------------------------------------------------------------- request/response pairs


@dataclass
class Exchange:
    request: int  # record indexes in the list given
    response: int | None  # None: never answered
    name: str
    response_name: str | None
    t: float  # when the request (its last send) went out
    seconds: float | None
    limit: SpecTimer | None
    channel: tuple
    sends: int = 1  # the request was sent this many times before the answer (SLAC and SDP retries)

    @property
    def ok(self) -> bool:
        return self.seconds is not None and (self.limit is None or self.seconds <= self.limit.seconds + 1e-9)

    @property
    def late(self) -> bool:
        return self.seconds is not None and self.limit is not None and self.seconds > self.limit.seconds + 1e-9


def _lower(value: str | None) -> str | None:
    """An address as a channel key: lower case, `[fe80::1]:50000` reduced to `fe80::1` (live timelines write
    datagram ends with ports, captures without)."""
    if not isinstance(value, str):
        return value
    if value.startswith("[") and "]" in value:
        value = value[1:value.index("]")]
    return value.lower()


def _channel(record: Record) -> tuple[tuple, bool] | None:
    """(channel key, is request) for records that come in request/response pairs."""
    if record.error:
        return None
    if record.layer == "exi":
        name = record.name
        kind = name[-3:]
        if kind not in ("Req", "Res"):
            return None
        conn = record.extra.get("conn")
        return ("exi", conn, name[:-3]), kind == "Req"
    if record.layer == "sdp" and record.name in ("SDP.REQ", "SDP.RES"):
        requester = record.src if record.name == "SDP.REQ" else record.dst
        return ("sdp", _lower(requester)), record.name == "SDP.REQ"
    if record.layer == "homeplug" and record.mmtype is not None:
        mmtype = record.mmtype
        kind = mmtype & 0x3
        if kind == 0 or mmtype in _HOMEPLUG_RESPONSE_TO_IND:
            return ("homeplug", mmtype, _lower(record.src)), True
        if kind == 1 or (kind == 3 and mmtype - 1 in _HOMEPLUG_RESPONSE_TO_IND):
            return ("homeplug", mmtype - 1, _lower(record.dst)), False
    return None


def exchanges(records: Sequence[Record]) -> list[Exchange]:
    """Every request with its response (or None), in request order. A request sent again before any answer is a
    retry: the exchange is measured from the last send and counts the sends."""
    pending: dict[tuple, Exchange] = {}
    out: list[Exchange] = []
    replaced: set[int] = set()  # retried: the retry carries the exchange on
    for index, record in enumerate(records):
        found = _channel(record)
        if found is None:
            continue
        key, is_request = found
        if record.layer == "exi" and key[1] is None and record.name == "supportedAppProtocolReq":
            for stale in [k for k in pending if k[0] == "exi"]:
                pending.pop(stale)  # a new connection in a test timeline: what was pending stays unanswered
        if is_request:
            previous = pending.get(key)
            exchange = Exchange(index, None, record.name, None, record.t, None, response_limit(record), key,
                                sends=(previous.sends + 1) if previous is not None else 1)
            if previous is not None:
                replaced.add(id(previous))
            pending[key] = exchange
            out.append(exchange)
            continue
        exchange = pending.pop(key, None)
        if exchange is None:
            continue  # an answer we did not see the request of (capture started late)
        exchange.response, exchange.response_name = index, record.name
        exchange.seconds = max(0.0, record.t - exchange.t)
    return [e for e in out if id(e) not in replaced]


def response_time_findings(records: Sequence[Record], found: list[Exchange] | None = None) -> list[Finding]:
    """Answers later than the requester waits for them, and V2G/SDP requests never answered although the
    timeline goes on past their deadline (a capture that ends first cannot tell)."""
    out = []
    last_t = max((r.t for r in records if r.layer != "meta"), default=0.0)
    for exchange in found if found is not None else exchanges(records):
        if exchange.response is None and exchange.limit is not None and exchange.channel[0] in ("exi", "sdp") \
                and last_t >= exchange.t + exchange.limit.seconds - 1e-9:
            request = records[exchange.request]
            conn = request.extra.get("conn")
            closed = next((r for r in records if r.layer == "tcp" and r.name in ("close", "closed", "reset")
                           and conn is not None and r.extra.get("conn") == conn), None)
            why = ""
            if closed is not None:
                delta = closed.t - exchange.t
                why = (f"; the connection was {'reset' if closed.name == 'reset' else 'closed'} "
                       f"{abs(delta) * 1000:.0f} ms {'after' if delta >= 0 else 'before'} it")
            sends = f" ({exchange.sends} sends)" if exchange.sends > 1 else ""
            out.append(Finding("unanswered", None, f"{exchange.name}{sends} was never answered; the requester "
                                                   f"waits at most {exchange.limit.seconds * 1000:g} ms "
                                                   f"({exchange.limit.name}){why}", exchange.request, request.t))
            continue
        if not exchange.late:
            continue
        assert exchange.limit is not None and exchange.seconds is not None
        out.append(Finding("response-time", None,
                           f"{exchange.response_name} came {exchange.seconds * 1000:.1f} ms after {exchange.name}; "
                           f"the requester waits at most {exchange.limit.seconds * 1000:g} ms "
                           f"({exchange.limit.name})", exchange.response, records[exchange.response].t))
    return out


# --------------------------------------------------------------------------- V2G message sequence


def _content(record: Record) -> dict[str, Any]:
    """The message element's content of an exi record (DIN/ISO-2 `V2G_Message/Body/<name>`, else the root)."""
    body = record.body if isinstance(record.body, dict) else {}
    if "V2G_Message" in body:
        inner = body["V2G_Message"].get("Body") or {}
        value = inner.get(record.name)
        return value if isinstance(value, dict) else {}
    value = body.get(record.name)
    return value if isinstance(value, dict) else body


def _session_id(record: Record) -> str | None:
    body = record.body if isinstance(record.body, dict) else {}
    try:
        return str(body["V2G_Message"]["Header"]["SessionID"]).lower()
    except (KeyError, TypeError):
        return None


@dataclass
class _Replay:
    state: str = INITIAL
    context: SequenceContext = field(default_factory=SequenceContext)
    schema: str | None = None
    pending: tuple[int, Record] | None = None
    session_id: str | None = None


def _v2g_channels(records: Sequence[Record]) -> list[list[int]]:
    """Record indexes of exi messages per connection (by `conn`, or split at each handshake request)."""
    by_conn: dict[Any, list[int]] = {}
    split: list[list[int]] = []
    for index, record in enumerate(records):
        if record.layer != "exi" or record.error or record.name[-3:] not in ("Req", "Res"):
            continue
        conn = record.extra.get("conn")
        if conn is not None:
            by_conn.setdefault(conn, []).append(index)
        else:
            if record.name == "supportedAppProtocolReq" or not split:
                split.append([])
            split[-1].append(index)
    return list(by_conn.values()) + split


def sequence_findings(records: Sequence[Record]) -> list[Finding]:
    """Requests the standard's sequence table does not allow, responses that do not answer the request, requests
    before the previous answer, and SessionIDs that are not the session's — per connection."""
    out: list[Finding] = []
    for indexes in _v2g_channels(records):
        replay = _Replay()
        for index in indexes:
            out += _replay_one(replay, index, records[index])
    return out


def _replay_one(replay: _Replay, index: int, record: Record) -> list[Finding]:
    name, pair = record.name, pair_of(record.name)
    out: list[Finding] = []
    if record.schema in TABLES:
        replay.schema = record.schema
    table = _table_for(replay.schema)

    def finding(rule: str, requirement: str | None, message: str) -> None:
        out.append(Finding(rule, requirement, message, index, record.t))

    if name.endswith("Req"):
        if replay.pending is not None:
            finding("sequence", REQUEST_BEFORE_RESPONSE,
                    f"{name} sent before {replay.pending[1].name} was answered")
        replay.pending = (index, record)
        if pair == "supportedAppProtocol":
            if replay.state != INITIAL:
                finding("sequence", None, f"supportedAppProtocolReq after {replay.state}: the handshake comes "
                                          f"first on a connection")
            return out
        if table is None:
            return out
        if pair not in table.pairs:
            finding("sequence", None, f"{name} is not a {table.standard} message of an EIM session")
            return out
        try:
            table.check(replay.state, pair)
        except SequenceViolation as violation:
            finding("sequence", violation.requirement, violation.detail)
        except KeyError:
            pass  # a state the table does not name (after an unknown message): nothing to check against
        session_id = _session_id(record)
        if pair != "SessionSetup" and replay.session_id and session_id and session_id != replay.session_id:
            finding("session-id", UNKNOWN_SESSION.get(table.standard),
                    f"{name} carries SessionID {session_id}, the session's is {replay.session_id}")
        return out
    # a response
    if replay.pending is None:
        finding("sequence", RESPONSE_MATCHES_REQUEST, f"{name} without a request to answer")
        return out
    request_index, request = replay.pending
    replay.pending = None
    if pair_of(request.name) != pair:
        finding("sequence", RESPONSE_MATCHES_REQUEST, f"{name} answers {request.name}")
        return out
    content = _content(record)
    if pair == "supportedAppProtocol":
        code = str(content.get("ResponseCode", ""))
        replay.state = "SupportedAppProtocol" if code.startswith("OK") else FAILED
        return out
    if pair == "SessionSetup":
        replay.session_id = _session_id(record)
    if table is not None and pair in table.pairs:
        replay.state = table.outcome(pair, _content(request), content, replay.context)
    return out


@dataclass
class Loop:
    """A run of one repeated request (CableCheck, PreCharge, ContractAuthentication ...) and its overall bound."""

    pair: str
    first: int  # record index of the first request
    start: float
    end: float  # the first request of the next pair (or the last record of the connection)
    count: int
    limit: SpecTimer | None

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def ok(self) -> bool:
        return self.limit is None or self.seconds <= self.limit.seconds + 1e-9


def loops(records: Sequence[Record]) -> list[Loop]:
    """The repeated-request phases of each connection with the loop timer the stack's table gives them
    (V2G_EVCC_CableCheck_Timeout, V2G_EVCC_PreCharge_Timeout, V2G_EVCC_Ongoing_Timeout / ReadyToCharge ...)."""
    out: list[Loop] = []
    for indexes in _v2g_channels(records):
        current: Loop | None = None
        for index in indexes:
            record = records[index]
            if not record.name.endswith("Req"):
                continue
            pair = pair_of(record.name)
            if current is not None and current.pair == pair:
                current.count += 1
                continue
            if current is not None:
                current.end = record.t
            table = _table_for(record.schema)
            loop = table.pairs[pair].loop if table is not None and pair in table.pairs else None
            current = Loop(pair, index, record.t, record.t, 1, loop)
            out.append(current)
        if current is not None:
            current.end = records[indexes[-1]].t
    return out


def loop_findings(records: Sequence[Record]) -> list[Finding]:
    """Repeated-request phases that lasted longer than their loop timer allows."""
    return [Finding("loop-time", None, f"{loop.pair} took {loop.seconds:.1f} s over {loop.count} requests; the EV "
                                       f"allows at most {loop.limit.seconds:g} s ({loop.limit.name})",
                    loop.first, records[loop.first].t)
            for loop in loops(records) if not loop.ok and loop.limit is not None]


# --------------------------------------------------------------------------- SLAC


def _run_id(record: Record) -> str | None:
    body = record.body if isinstance(record.body, dict) else {}
    value = body.get("RunID")
    if value is None and isinstance(body.get("VariableField"), dict):
        value = body["VariableField"].get("RunID")
    return str(value).lower() if value is not None else None


_SLAC_ANSWERS = {0x6065: "CM_SLAC_PARM.CNF", 0x606E: "CM_ATTEN_CHAR.IND", 0x607D: "CM_SLAC_MATCH.CNF"}
_SLAC_FROM_EV = {0x6064, 0x606A, 0x6076, 0x606F, 0x607C}


def slac_findings(records: Sequence[Record]) -> list[Finding]:
    """Every charger answer in a matching must carry the RunID of the car's CM_SLAC_PARM.REQ, and the car's own
    later messages the same RunID. A mismatch explains a car that ignores the answer and retries."""
    out: list[Finding] = []
    run_ids: dict[str, tuple[str, int]] = {}  # EV MAC -> (RunID of its latest CM_SLAC_PARM.REQ, index)
    for index, record in enumerate(records):
        if record.layer != "homeplug" or record.error or record.mmtype is None:
            continue
        run_id = _run_id(record)
        if run_id is None:
            continue
        if record.mmtype == 0x6064:
            run_ids[_lower(record.src) or ""] = (run_id, index)
            continue
        ev = _lower(record.dst if record.mmtype in _SLAC_ANSWERS else record.src) or ""
        if ev not in run_ids:
            continue
        expected, request = run_ids[ev]
        if run_id == expected:
            continue
        if record.mmtype in _SLAC_ANSWERS:
            retries = sum(1 for r in records[index + 1:] if r.layer == "homeplug" and r.mmtype == 0x6064 and
                          _lower(r.src) == ev)
            then = (f"; the car sent CM_SLAC_PARM.REQ {retries} more time{'s' if retries != 1 else ''} after it"
                    if retries else "")
            out.append(Finding("runid-echo", RUNID_ECHO,
                               f"{record.name} carries RunID {run_id}, not the RunID {expected} of the car's "
                               f"CM_SLAC_PARM.REQ (#{request}), so the car must ignore it{then}",
                               index, record.t))
        elif record.mmtype in _SLAC_FROM_EV:
            out.append(Finding("runid-echo", RUNID_ECHO, f"{record.name} carries RunID {run_id}, the matching "
                                                         f"started with {expected}", index, record.t))
    return out


# --------------------------------------------------------------------------- error codes


_BAD_EVSE_STATUS = {"EVSE_Shutdown", "EVSE_EmergencyShutdown", "EVSE_Malfunction", "EVSE_UtilityInterruptEvent"}


def _walk(node: Any, key: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found += _walk(v, key)
    elif isinstance(node, list):
        for v in node:
            found += _walk(v, key)
    return found


def error_findings(records: Sequence[Record]) -> list[Finding]:
    """What the parties said went wrong: FAILED response codes, EVSE status codes that stop charging, EV error
    codes, an isolation fault, and the EVSE asking to stop. One finding per distinct (message, code) run."""
    out: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for index, record in enumerate(records):
        if record.layer != "exi" or record.error:
            continue
        content = _content(record)
        said = []
        code = content.get("ResponseCode")
        if isinstance(code, str) and code.startswith(("FAILED", "Failed")):
            said.append(("ResponseCode", code))
        for status in _walk(content, "EVSEStatusCode"):
            if status in _BAD_EVSE_STATUS:
                said.append(("EVSEStatusCode", status))
        for error in _walk(content, "EVErrorCode"):
            if error not in ("NO_ERROR", None):
                said.append(("EVErrorCode", error))
        for isolation in _walk(content, "EVSEIsolationStatus"):
            if isolation == "Fault":
                said.append(("EVSEIsolationStatus", isolation))
        for notification in _walk(content, "EVSENotification"):
            if notification in ("StopCharging", "ReNegotiation"):
                said.append(("EVSENotification", notification))
        for key, value in said:
            mark = (record.name, key, str(value))
            if mark in seen:
                continue
            seen.add(mark)
            count = sum(1 for r in records[index:] if r.layer == "exi" and r.name == record.name and
                        value in _walk(_content(r), key))
            out.append(Finding("error-code", None, f"{record.name} {key}={value}"
                                                    + (f" ({count} times from here)" if count > 1 else ""),
                               index, record.t))
    return out


# --------------------------------------------------------------------------- power-limit attribution


def physical(value: Any) -> float | None:
    """DIN/ISO-2 PhysicalValue {Value, Multiplier}, ISO-20 RationalNumber {Value, Exponent}, or a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict) and "Value" in value:
        try:
            return float(value["Value"]) * 10.0 ** int(value.get("Multiplier", value.get("Exponent", 0)) or 0)
        except (TypeError, ValueError):
            return None
    return None


def _first(node: Any, key: str) -> float | None:
    values = _walk(node, key)
    return physical(values[0]) if values else None


@dataclass
class PowerSample:
    """One CurrentDemand (or DC_ChargeLoop) exchange with everything that decides who limits the current."""

    t: float
    request: int
    response: int | None
    target_voltage: float | None
    target_current: float | None
    present_voltage: float | None
    present_current: float | None
    evse_max_current: float | None
    evse_max_power: float | None
    evse_max_voltage: float | None
    ev_max_current: float | None
    ev_max_power: float | None
    ev_max_voltage: float | None
    flags: tuple[str, ...] = ()  # EVSE*LimitAchieved that are true
    evse_status: str | None = None
    limiter: str = "unknown"  # ev | evse | unknown
    reason: str = ""  # ev-target | evse-max-current | evse-max-power | evse-limit-flag | evse-regulation |
    #                   evse-ramping | no-answer


_LOOP = ("CurrentDemand", "DC_ChargeLoop")
_LIMIT_FLAGS = ("EVSECurrentLimitAchieved", "EVSEPowerLimitAchieved", "EVSEVoltageLimitAchieved")


def current_tolerance(target: float) -> float:
    """How far below the target the delivered current may be and still count as delivered (1 A or 5 %)."""
    return max(1.0, 0.05 * abs(target))


def power_samples(records: Sequence[Record]) -> list[PowerSample]:
    """The charge loop, one sample per request, with the limits last announced by each side (from
    ChargeParameterDiscovery or the loop messages themselves) and who limits the current in it."""
    evse: dict[str, float | None] = {"current": None, "power": None, "voltage": None}
    ev: dict[str, float | None] = {"current": None, "power": None, "voltage": None}
    samples: list[PowerSample] = []
    pending: dict[Any, PowerSample] = {}
    previous: dict[Any, PowerSample] = {}
    for index, record in enumerate(records):
        if record.layer != "exi" or record.error:
            continue
        content = _content(record)
        for side, prefix in ((evse, "EVSEMaximum"), (ev, "EVMaximum")):
            for key, name in (("current", "CurrentLimit"), ("power", "PowerLimit"), ("voltage", "VoltageLimit")):
                value = _first(content, prefix + name)
                if value is not None:
                    side[key] = value
        stem = pair_of(record.name)
        if stem not in _LOOP:
            continue
        conn = record.extra.get("conn")
        if record.name.endswith("Req"):
            sample = PowerSample(record.t, index, None, _first(content, "EVTargetVoltage"),
                                 _first(content, "EVTargetCurrent"), None, None, evse["current"], evse["power"],
                                 evse["voltage"], ev["current"], ev["power"], ev["voltage"], limiter="unknown",
                                 reason="no-answer")
            samples.append(sample)
            pending[conn] = sample
            continue
        sample = pending.pop(conn, None)
        if sample is None:
            continue
        sample.response = index
        sample.present_voltage = _first(content, "EVSEPresentVoltage")
        sample.present_current = _first(content, "EVSEPresentCurrent")
        sample.evse_max_current, sample.evse_max_power, sample.evse_max_voltage = (
            evse["current"], evse["power"], evse["voltage"])
        sample.flags = tuple(f for f in _LIMIT_FLAGS if any(v in (True, "true", 1) for v in _walk(content, f)))
        statuses = _walk(content, "EVSEStatusCode")
        sample.evse_status = str(statuses[0]) if statuses else None
        sample.limiter, sample.reason = attribute(sample, previous.get(conn))
        previous[conn] = sample
    return samples


def attribute(sample: PowerSample, previous: PowerSample | None = None) -> tuple[str, str]:
    """Who holds the current down in one exchange, and why.

    When the charger delivers the EV's target, the target is the limit — but an EV that asks exactly the
    charger's announced maximum current (or power) while its own maximum is higher has adapted to the charger:
    the charger limits ("evse-max-current" / "evse-max-power"); an EV at its own maximum limits itself
    ("ev-max-current"); otherwise the EV's request is below both maxima ("ev-target", e.g. its battery asks less).
    When the charger delivers less than the target: it delivers what its announced maximum current or power at
    the present voltage allows (the same two reasons), it says it reached a limit below that
    ("evse-limit-flag"), or none of these: still rising since the `previous` exchange ("evse-ramping", a ramp
    rather than a limit), else it does not deliver ("evse-regulation")."""
    target, present = sample.target_current, sample.present_current
    if target is None or present is None:
        return "unknown", "no-answer" if sample.response is None else "no-values"
    voltage = sample.present_voltage if sample.present_voltage else sample.target_voltage
    caps = []
    if sample.evse_max_current is not None:
        caps.append((sample.evse_max_current, "evse-max-current"))
    if sample.evse_max_power is not None and voltage:
        caps.append((sample.evse_max_power / voltage, "evse-max-power"))
    allowed, which = min(caps) if caps else (None, "")
    if present >= target - current_tolerance(target):
        ev_max = sample.ev_max_current
        if allowed is not None and target >= allowed - current_tolerance(allowed) and \
                (ev_max is None or ev_max > allowed + current_tolerance(allowed)):
            return "evse", which
        if ev_max is not None and target >= ev_max - current_tolerance(ev_max):
            return "ev", "ev-max-current"
        return "ev", "ev-target"
    if allowed is not None and allowed < target and present >= allowed - current_tolerance(allowed):
        return "evse", which
    if sample.flags:
        return "evse", "evse-limit-flag"
    if previous is not None and previous.present_current is not None and \
            present - previous.present_current > 0.5 * current_tolerance(target):
        return "evse", "evse-ramping"
    return "evse", "evse-regulation"


_REASONS = {
    "ev-target": "the charger delivers the EV's target current, below both sides' maxima: the EV's request is "
                 "the limit",
    "ev-max-current": "the charger delivers the EV's target, which is the EV's own maximum current",
    "evse-max-current": "the current is held at the EVSE's announced maximum current (the EV asks that much or "
                        "more, and could take more)",
    "evse-max-power": "the current is held at what the EVSE's announced maximum power allows at the present "
                      "voltage",
    "evse-limit-flag": "the charger reports {flags} below the EV's target and its announced maximum",
    "evse-regulation": "the charger delivers less than the EV's target although its announced limits allow it "
                       "and it reports no limit reached (it does not regulate to the target)",
    "evse-ramping": "the charger's current is still rising toward the EV's target (a ramp, not a limit)",
    "no-answer": "the request was not answered",
    "no-values": "the exchange carries no target or present current",
}


def reason_text(reason: str, flags: Iterable[str] = ()) -> str:
    return _REASONS.get(reason, reason).format(flags=" and ".join(flags) or "a limit")


@dataclass
class PowerVerdict:
    limiter: str  # ev | evse | unknown
    reason: str  # the most frequent reason code
    sentence: str
    samples: int
    answered: int
    reasons: dict[str, int]
    voltage_off: int  # exchanges whose present voltage is far from the EV's target voltage


def _span(values: Iterable[float | None], unit: str) -> str:
    """`10 A`, or `0–0.5 A (median 0 A)` when the values vary."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return "?"
    low, high, median = present[0], present[-1], present[len(present) // 2]
    return f"{low:g} {unit}" if low == high else f"{low:g}–{high:g} {unit} (median {median:g} {unit})"


def power_verdict(samples: list[PowerSample]) -> PowerVerdict | None:
    """The charge loop summed up: who limits the current most of the time, and one sentence with the values."""
    if not samples:
        return None
    answered = [s for s in samples if s.response is not None]
    counts: dict[str, int] = {}
    for sample in answered:
        counts[sample.reason] = counts.get(sample.reason, 0) + 1
    voltage_off = sum(1 for s in answered if s.target_voltage and s.present_voltage is not None and
                      abs(s.present_voltage - s.target_voltage) > max(10.0, 0.1 * s.target_voltage))
    if not counts:
        return PowerVerdict("unknown", "no-answer", "no CurrentDemand request was answered", len(samples), 0, {},
                            0)
    settled = {k: v for k, v in counts.items() if k != "evse-ramping"} or counts  # ramps decide only alone
    reason = max(settled, key=lambda k: settled[k])
    limiter = "ev" if reason.startswith("ev-") else "evse" if reason.startswith("evse") else "unknown"
    flags = sorted({f for s in answered if s.reason == reason for f in s.flags})
    sentence = (f"{'EV' if limiter == 'ev' else 'EVSE' if limiter == 'evse' else 'unknown'} limits the current "
                f"in {counts[reason]} of {len(answered)} answered exchanges: {reason_text(reason, flags)} "
                f"(EV target {_span((s.target_current for s in answered), 'A')} at "
                f"{_span((s.target_voltage for s in answered), 'V')}; EVSE present "
                f"{_span((s.present_current for s in answered), 'A')} at "
                f"{_span((s.present_voltage for s in answered), 'V')}")
    if reason in ("evse-max-current", "evse-max-power"):
        sentence += (f"; EVSE maximum {_span((s.evse_max_current for s in answered), 'A')}, "
                     f"{_span((s.evse_max_power for s in answered), 'W')}")
    sentence += ")"
    if voltage_off:
        sentence += (f"; in {voltage_off} exchanges the EVSE's present voltage is far from the EV's target voltage")
    statuses = sorted({s.evse_status for s in answered if s.evse_status in _BAD_EVSE_STATUS})
    if statuses:
        sentence += f"; EVSEStatusCode {', '.join(statuses)}"
    return PowerVerdict(limiter, reason, sentence, len(samples), len(answered), counts, voltage_off)


# --------------------------------------------------------------------------- assertions for the catalogue


def _records(timeline: Timeline | Sequence[Record]) -> list[Record]:
    return list(timeline.records) if isinstance(timeline, Timeline) else list(timeline)


def _fail(timeline: Timeline, findings: list[Finding], what: str) -> None:
    __tracebackhide__ = True
    from harness.assertions import fail_with_timeline

    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    requirement = f"[{first.requirement}] " if first.requirement else ""
    fail_with_timeline(timeline, f"{what}: {requirement}{first.message}{more}", mark=first.index)


def assert_response_times(timeline: Timeline, names: Iterable[str] | None = None) -> list[Exchange]:
    """Every answered request (or those named) was answered within the limit its sender waits with."""
    __tracebackhide__ = True
    records = _records(timeline)
    wanted = set(names) if names is not None else None
    found = [e for e in exchanges(records) if wanted is None or e.name in wanted]
    late = response_time_findings(records, found)
    if late:
        _fail(timeline, late, "response too late")
    return found


def assert_sequence_valid(timeline: Timeline) -> None:
    """The V2G messages follow the standard's sequence table (the one the stack's SECC and EVCC use)."""
    __tracebackhide__ = True
    findings = sequence_findings(_records(timeline))
    if findings:
        _fail(timeline, findings, "message sequence violated")


def assert_runid_echoed(timeline: Timeline) -> None:
    """Every SLAC answer carries the RunID of the car's CM_SLAC_PARM.REQ."""
    __tracebackhide__ = True
    findings = slac_findings(_records(timeline))
    if findings:
        _fail(timeline, findings, "SLAC RunID not echoed")


def assert_power_limited_by(timeline: Timeline, side: str) -> PowerVerdict:
    """During the charge loop, `side` ("ev" or "evse") is the one that limits the current most of the time."""
    __tracebackhide__ = True
    records = _records(timeline)
    verdict = power_verdict(power_samples(records))
    if verdict is None or verdict.limiter != side:
        from harness.assertions import fail_with_timeline

        fail_with_timeline(timeline, f"expected the {side.upper()} to limit the current; "
                                     f"{verdict.sentence if verdict else 'there was no charge loop'}")
    assert verdict is not None
    return verdict
