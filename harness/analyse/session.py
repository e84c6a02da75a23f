"""Reconstruct what happened in a field capture: parties, SLAC attempts, V2G sessions, and what went wrong.

Input is the decoded capture (records on the `capture` clock, `harness.capture.decode`); every verdict comes from
`harness.checks`, the checks the test catalogue runs. A *V2G session* is one TCP connection that carried V2G
messages; it is tied to the SLAC matching and SDP exchange that preceded it. Connections without V2G messages
(refused, reset, never answered) are counted, not listed as sessions. A capture without any V2G session (the
Taycan one) still has its SLAC attempts explained.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import checks
from harness.capture.parties import Parties
from harness.records import Record

_PARM_REQ, _PARM_CNF, _START_ATTEN, _SOUND, _ATTEN_IND, _ATTEN_RSP = 0x6064, 0x6065, 0x606A, 0x6076, 0x606E, 0x606F
_MATCH_REQ, _MATCH_CNF, _SW_VER_CNF = 0x607C, 0x607D, 0xA001
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_NAMESPACES = {"urn:din:70121:2012:MsgDef": "DIN SPEC 70121", "urn:iso:15118:2:2013:MsgDef": "ISO 15118-2",
               "urn:iso:15118:2:2010:MsgDef": "ISO 15118-2 (2010 draft)"}


# --------------------------------------------------------------------------- SLAC


@dataclass
class SlacAttempt:
    """One matching attempt of a car: its CM_SLAC_PARM.REQ sends (with retries) up to CM_SLAC_MATCH.CNF or failure."""

    ev_mac: str
    run_id: str
    first: int  # record index of the first CM_SLAC_PARM.REQ
    start: float
    parm_sends: int = 0
    parm_answers: int = 0
    answered_at: float | None = None  # the CM_SLAC_PARM.CNF that echoed the RunID
    answered_send: float | None = None  # the CM_SLAC_PARM.REQ it answered
    wrong_run_ids: list[str] = field(default_factory=list)
    evse_mac: str | None = None
    start_atten: int = 0
    sounds: int = 0
    atten_char_ind: int = 0
    atten_char_rsp: int = 0
    match_req: float | None = None
    matched_at: float | None = None
    nid: str | None = None
    nmk: str | None = None
    end: float = 0.0
    last_send: float = 0.0

    @property
    def matched(self) -> bool:
        return self.matched_at is not None

    @property
    def duration(self) -> float | None:
        """From the CM_SLAC_PARM.REQ the charger answered to CM_SLAC_MATCH.CNF."""
        if self.matched_at is None or self.answered_send is None:
            return None
        return self.matched_at - self.answered_send

    def outcome(self) -> str:
        if self.matched:
            return "matched"
        if self.wrong_run_ids and not self.answered_at:
            return (f"failed: CM_SLAC_PARM.CNF carried RunID {', '.join(sorted(set(self.wrong_run_ids)))} instead of "
                    f"echoing the car's {self.run_id}; the car ignored it and sent CM_SLAC_PARM.REQ "
                    f"{self.parm_sends} times")
        if not self.parm_answers:
            return f"failed: no CM_SLAC_PARM.CNF to {self.parm_sends} CM_SLAC_PARM.REQ"
        if not self.start_atten:
            return "failed: no CM_START_ATTEN_CHAR.IND after CM_SLAC_PARM.CNF"
        if not self.atten_char_ind:
            return f"failed: no CM_ATTEN_CHAR.IND after {self.sounds} sounds"
        if self.match_req is None:
            return "failed: no CM_SLAC_MATCH.REQ"
        return "failed: no CM_SLAC_MATCH.CNF"


def _body(record: Record) -> dict[str, Any]:
    body = record.body if isinstance(record.body, dict) else {}
    variable = body.get("VariableField")
    return {**body, **variable} if isinstance(variable, dict) else body


def slac_attempts(records: Sequence[Record]) -> list[SlacAttempt]:
    """Group the SLAC messages into attempts per car. A new attempt starts with a CM_SLAC_PARM.REQ carrying another
    RunID, or after the previous attempt matched or got as far as a correct CM_SLAC_PARM.CNF; a REQ repeated
    without a correct answer is a retry of the same attempt."""
    attempts: list[SlacAttempt] = []
    current: dict[str, SlacAttempt] = {}
    for index, record in enumerate(records):
        if record.layer != "homeplug" or record.error or record.mmtype is None:
            continue
        body = _body(record)
        run_id = str(body.get("RunID", "")).lower() or None
        mmtype = record.mmtype
        if mmtype == _PARM_REQ:
            ev = (record.src or "").lower()
            attempt = current.get(ev)
            if attempt is None or attempt.run_id != run_id or attempt.matched or attempt.answered_at is not None:
                attempt = SlacAttempt(ev, run_id or "", index, record.t)
                attempts.append(attempt)
                current[ev] = attempt
            attempt.parm_sends += 1
            attempt.end = attempt.last_send = record.t
            continue
        ev = (record.dst if mmtype in (_PARM_CNF, _ATTEN_IND, _MATCH_CNF) else record.src or "") or ""
        attempt = current.get(ev.lower())
        if attempt is None:
            continue
        attempt.end = max(attempt.end, record.t)
        if mmtype == _PARM_CNF:
            attempt.parm_answers += 1
            if run_id == attempt.run_id:
                attempt.answered_at = attempt.answered_at or record.t
                attempt.answered_send = attempt.answered_send or attempt.last_send
                attempt.evse_mac = (record.src or "").lower()
            elif run_id:
                attempt.wrong_run_ids.append(run_id)
        elif mmtype == _START_ATTEN:
            attempt.start_atten += 1
        elif mmtype == _SOUND:
            attempt.sounds += 1
        elif mmtype == _ATTEN_IND:
            attempt.atten_char_ind += 1
        elif mmtype == _ATTEN_RSP:
            attempt.atten_char_rsp += 1
        elif mmtype == _MATCH_REQ:
            attempt.match_req = attempt.match_req or record.t
        elif mmtype == _MATCH_CNF and run_id == attempt.run_id:
            attempt.matched_at = record.t
            attempt.evse_mac = (record.src or "").lower()
            attempt.nid = body.get("NetworkID")
            attempt.nmk = body.get("NMK")
    return attempts


# --------------------------------------------------------------------------- V2G sessions


@dataclass
class MessageStats:
    name: str  # request name
    count: int
    minimum: float | None
    median: float | None
    maximum: float | None
    limit: str | None  # "V2G_EVCC_Msg_Timeout(CurrentDemandReq) 0.25 s"
    limit_seconds: float | None
    over: int
    unanswered: int
    sends: int = 0  # requests sent, retries included


@dataclass
class PowerSegment:
    """Consecutive charge-loop exchanges with the same verdict and EVSE status."""

    start: float
    end: float
    count: int
    reason: str
    status: str | None
    target: str
    present: str
    evse_max: str


@dataclass
class V2gSession:
    number: int
    conn: Any
    start: float
    end: float
    ev_ip: str | None = None
    evse_ip: str | None = None
    ev_port: int | None = None
    evse_port: int | None = None
    protocol: str | None = None
    schema: str | None = None
    sap: str | None = None  # the handshake's response code
    evccid: str | None = None
    evseid: str | None = None
    session_id: str | None = None
    slac: SlacAttempt | None = None
    sdp_t: float | None = None
    sdp_seconds: float | None = None
    sdp_requests: int = 0
    tcp_open: float | None = None
    phases: list[tuple[str, float, int]] = field(default_factory=list)  # (pair, first time, count of requests)
    ending: str = ""
    stats: list[MessageStats] = field(default_factory=list)
    findings: list[checks.Finding] = field(default_factory=list)
    power: checks.PowerVerdict | None = None
    power_segments: list[PowerSegment] = field(default_factory=list)
    loops: list[checks.Loop] = field(default_factory=list)
    records: list[int] = field(default_factory=list)  # indexes of the records that belong to this session

    def duration_of(self, first: str, last: str | None = None) -> float | None:
        """Seconds from the first request of pair `first` to the first of `last` (or the session end)."""
        times = {name: t for name, t, _ in self.phases}
        if first not in times:
            return None
        stop = times.get(last) if last else self.end
        return None if stop is None else stop - times[first]


@dataclass
class Analysis:
    source: str
    first: float
    last: float
    frames: int
    parties: dict[str, dict[str, list[str]]]  # "EV"/"EVSE"/"modems" -> {"MAC": [...], "IPv6": [...], ...}
    slac: list[SlacAttempt]
    sessions: list[V2gSession]
    empty_connections: dict[str, int]  # how the connections without V2G messages ended
    findings: list[checks.Finding]  # everything, capture-wide (SLAC and sessions), in time order
    errors: int  # records that could not be decoded
    link_stats: list[MessageStats] = field(default_factory=list)  # SLAC, SDP and modem exchanges

    def summary(self) -> str:
        """One line: what the capture holds and how it went."""
        matched = sum(a.matched for a in self.slac)
        parts = [f"{len(self.slac)} SLAC attempt{'s' if len(self.slac) != 1 else ''} ({matched} matched)"]
        for session in self.sessions:
            loop = next((n for name, _, n in session.phases if name in ("CurrentDemand", "ChargingStatus")), 0)
            who = f", {session.power.limiter.upper()} limits the current" if session.power else ""
            parts.append(f"session {session.number}: {(session.protocol or '?').split(' (')[0]}, {loop} charge-loop "
                         f"requests{who}, {session.ending.split(':')[0]}")
        if not self.sessions:
            parts.append("no V2G session")
        parts.append(f"{len(self.findings)} finding{'s' if len(self.findings) != 1 else ''}")
        return "; ".join(parts)


def _content(record: Record) -> dict[str, Any]:
    return checks._content(record)


def _add(target: dict[str, list[str]], key: str, value: Any) -> None:
    if value is None or value == "":
        return
    values = target.setdefault(key, [])
    if str(value) not in values:
        values.append(str(value))


def _parties(records: Sequence[Record]) -> tuple[dict[str, dict[str, list[str]]], Parties]:
    parties = Parties()
    for record in records:
        parties.learn_record(record)
    out: dict[str, dict[str, list[str]]] = {"EV": {}, "EVSE": {}, "modems": {}}
    for address, role in parties.roles.items():
        side = {"pev": "EV", "evse": "EVSE", "modem": "modems"}[role]
        _add(out[side], "MAC" if _MAC.fullmatch(address) else "IPv6", address)
    for record in records:
        if record.layer == "exi" and not record.error:
            content = _content(record)
            if record.name == "SessionSetupReq":
                _add(out["EV"], "EVCCID", content.get("EVCCID"))
            elif record.name == "SessionSetupRes":
                _add(out["EVSE"], "EVSEID", content.get("EVSEID"))
        elif record.layer == "homeplug" and record.mmtype == _SW_VER_CNF and isinstance(record.body, dict):
            version = record.body.get("Version")
            if version:
                _add(out["modems"], "firmware", f"{record.src}: {version}")
    return out, parties


def _protocol(offer: dict[int, dict[str, Any]], content: dict[str, Any]) -> str | None:
    schema_id = content.get("SchemaID")
    entry = offer.get(schema_id) if schema_id is not None else None
    if entry is None:
        return None
    namespace = entry.get("ProtocolNamespace", "?")
    name = _NAMESPACES.get(namespace) or ("ISO 15118-20" if ":-20:" in namespace else namespace)
    return f"{name} ({namespace} v{entry.get('VersionNumberMajor')}.{entry.get('VersionNumberMinor')})"


def _stats(exchanges: list[checks.Exchange]) -> list[MessageStats]:
    groups: dict[str, list[checks.Exchange]] = {}
    for exchange in exchanges:
        groups.setdefault(exchange.name, []).append(exchange)
    out = []
    for name, items in groups.items():
        times = [e.seconds for e in items if e.seconds is not None]
        limit = items[0].limit
        out.append(MessageStats(name, len(items), min(times) if times else None,
                                statistics.median(times) if times else None, max(times) if times else None,
                                str(limit) if limit else None, limit.seconds if limit else None,
                                sum(e.late for e in items), sum(e.response is None for e in items),
                                sum(e.sends for e in items)))
    return out


def _power_segments(samples: list[checks.PowerSample]) -> list[PowerSegment]:
    out: list[PowerSegment] = []
    groups: list[list[checks.PowerSample]] = []
    for sample in samples:
        if groups and (groups[-1][-1].reason, groups[-1][-1].evse_status) == (sample.reason, sample.evse_status):
            groups[-1].append(sample)
        else:
            groups.append([sample])
    for group in groups:
        def span(values: list[float | None], unit: str) -> str:
            present = [v for v in values if v is not None]
            if not present:
                return "?"
            low, high = min(present), max(present)
            return f"{low:g} {unit}" if low == high else f"{low:g}–{high:g} {unit}"
        out.append(PowerSegment(group[0].t, group[-1].t, len(group), group[0].reason, group[0].evse_status,
                                f"{span([s.target_voltage for s in group], 'V')} / "
                                f"{span([s.target_current for s in group], 'A')}",
                                f"{span([s.present_voltage for s in group], 'V')} / "
                                f"{span([s.present_current for s in group], 'A')}",
                                f"{span([s.evse_max_current for s in group], 'A')} / "
                                f"{span([s.evse_max_power for s in group], 'W')}"))
    return out


def _ending(session: V2gSession, records: Sequence[Record], indexes: list[int], parties: Parties) -> str:
    exi = [records[i] for i in indexes if records[i].layer == "exi"]
    names = [r.name for r in exi]
    if "SessionStopRes" in names:
        return "normal end: SessionStopRes"
    last = exi[-1] if exi else None
    closes = [records[i] for i in indexes if records[i].layer == "tcp" and records[i].name in ("closed", "reset")]
    why = []
    if last is not None:
        phase = last.name[:-3]
        answered = last.name.endswith("Res")
        why.append(f"during {phase}" + ("" if answered else f" ({last.name} unanswered)"))
    if closes:
        close = closes[0]
        who = parties.label(close.src)
        why.insert(0, f"TCP {'reset' if close.name == 'reset' else 'closed'} by the {who}")
    else:
        why.insert(0, "the capture ends")
    stop_sent = any(r.name == "PowerDeliveryReq" and checks._walk(_content(r), "ReadyToChargeState") == [False]
                    for r in exi) or any(checks._walk(_content(r), "ChargeProgress") == ["Stop"] for r in exi)
    tail = "no SessionStop" if stop_sent else "no PowerDelivery(stop), no SessionStop"
    return f"abnormal end: {' '.join(why)}; {tail}"


def _within(check: Any, records: Sequence[Record], indexes: list[int]) -> list[checks.Finding]:
    """Run a check on a subset of the records; its findings point into the whole list."""
    found = check([records[i] for i in indexes])
    return [checks.Finding(f.rule, f.requirement, f.message, indexes[f.index] if f.index is not None else None, f.t)
            for f in found]


def _sessions(records: Sequence[Record], parties: Parties, attempts: list[SlacAttempt]) -> tuple[
        list[V2gSession], dict[str, int]]:
    by_conn: dict[Any, list[int]] = {}
    for index, record in enumerate(records):
        conn = record.extra.get("conn")
        if conn is not None:
            by_conn.setdefault(conn, []).append(index)
    sessions: list[V2gSession] = []
    empty: dict[str, int] = {}
    exchanges = checks.exchanges(records)
    sdp = [e for e in exchanges if e.channel[0] == "sdp"]
    all_samples = checks.power_samples(records)
    for conn, indexes in by_conn.items():
        members = [records[i] for i in indexes]
        if not any(r.layer == "exi" for r in members):
            ends = [r.name for r in members if r.layer == "tcp" and r.name != "open"]
            kind = ("reset by the " + parties.label(next(r.src for r in members if r.name == "reset"))
                    if "reset" in ends else "closed without V2G messages" if ends else "never answered")
            empty[kind] = empty.get(kind, 0) + 1
            continue
        session = V2gSession(len(sessions) + 1, conn, members[0].t, members[-1].t, records=indexes)
        opened = next((r for r in members if r.layer == "tcp" and r.name == "open"), None)
        session.tcp_open = opened.t if opened else None
        first_exi = next(r for r in members if r.layer == "exi")
        ev_side = first_exi if first_exi.name.endswith("Req") else None
        if ev_side is not None:
            session.ev_ip, session.evse_ip = ev_side.src, ev_side.dst
            session.ev_port, session.evse_port = ev_side.extra.get("sport"), ev_side.extra.get("dport")
        offer: dict[int, dict[str, Any]] = {}
        counts: dict[str, int] = {}
        for record in members:
            if record.layer != "exi" or record.error:
                continue
            content = _content(record)
            if record.schema and record.schema != "apphand":
                session.schema = record.schema
            if record.name == "supportedAppProtocolReq":
                for entry in content.get("AppProtocol", []) or []:
                    if isinstance(entry, dict) and "SchemaID" in entry:
                        offer[entry["SchemaID"]] = entry
            elif record.name == "supportedAppProtocolRes":
                session.protocol = _protocol(offer, content) or session.protocol
                session.sap = content.get("ResponseCode")
            elif record.name == "SessionSetupReq":
                session.evccid = content.get("EVCCID")
            elif record.name == "SessionSetupRes":
                session.evseid = content.get("EVSEID")
                session.session_id = checks._session_id(record)
            if record.name.endswith("Req"):
                stem = record.name[:-3]
                if stem not in counts:
                    session.phases.append((stem, record.t, 0))
                counts[stem] = counts.get(stem, 0) + 1
        session.phases = [(name, t, counts[name]) for name, t, _ in session.phases]
        # what came before: the latest matched SLAC of this car and the latest answered SDP request
        start = session.tcp_open or session.start
        ev_macs = set()
        for attempt in attempts:
            if attempt.matched and attempt.matched_at is not None and attempt.matched_at <= start:
                session.slac = attempt
        if session.slac:
            ev_macs.add(session.slac.ev_mac)
        before = [e for e in sdp if e.t <= start and (session.ev_ip is None or
                                                       records[e.request].src == session.ev_ip)]
        answered = [e for e in before if e.response is not None]
        if answered:
            last = answered[-1]
            session.sdp_t, session.sdp_seconds = last.t, last.seconds
            since = sessions[-1].end if sessions else float("-inf")
            session.sdp_requests = sum(e.sends for e in before if e.t > since)
        mine = set(indexes)
        session.stats = _stats([e for e in exchanges if e.request in mine])
        session.findings = _within(checks.sequence_findings, records, indexes)
        session.findings += _within(checks.error_findings, records, indexes)
        session.findings += _within(checks.loop_findings, records, indexes)
        session.loops = [dataclasses.replace(loop, first=indexes[loop.first])
                         for loop in checks.loops([records[i] for i in indexes])]
        session.findings += checks.response_time_findings(records, [e for e in exchanges if e.request in mine])
        unanswered = [e for e in exchanges if e.request in mine and e.response is None]
        samples = [s for s in all_samples if s.request in mine]
        session.power = checks.power_verdict(samples)
        session.power_segments = _power_segments(samples)
        session.ending = _ending(session, records, indexes, parties)
        if not session.ending.startswith("normal"):
            at = unanswered[-1].request if unanswered else indexes[-1]
            session.findings.append(checks.Finding("session-end", None, f"session {session.number}: "
                                                   f"{session.ending}", at, records[at].t))
        if session.power and session.power.limiter == "evse" and session.power.reason == "evse-regulation":
            at = samples[-1].request if samples else indexes[-1]
            session.findings.append(checks.Finding("power", None, f"session {session.number}: "
                                                   f"{session.power.sentence}", at, records[at].t))
        session.findings.sort(key=lambda f: (f.t or 0.0))
        sessions.append(session)
    return sessions, empty


def analyse(records: Sequence[Record], source: str = "", frames: int = 0) -> Analysis:
    """Everything `ccs-hil analyse` reports, from the records of one capture (meta record first or not)."""
    records = list(records)
    events = [r for r in records if r.layer != "meta"]
    parties_table, parties = _parties(records)
    attempts = slac_attempts(records)
    sessions, empty = _sessions(records, parties, attempts)
    findings: list[checks.Finding] = list(checks.slac_findings(records))
    for attempt in attempts:
        if not attempt.matched and not attempt.wrong_run_ids:
            findings.append(checks.Finding("slac", None, f"SLAC attempt of {attempt.ev_mac} (RunID "
                                           f"{attempt.run_id}) {attempt.outcome()}", attempt.first, attempt.start))
    if attempts and not any(a.matched for a in attempts) and not sessions:
        last = attempts[-1]
        findings.append(checks.Finding("slac", None, f"no SLAC matching succeeded in {len(attempts)} attempt"
                                       f"{'s' if len(attempts) != 1 else ''}: {last.outcome()}",
                                       last.first, last.start))
    for session in sessions:
        findings += session.findings
    link = [e for e in checks.exchanges(records) if e.channel[0] in ("homeplug", "sdp")]
    findings += checks.response_time_findings(records, link)
    findings.sort(key=lambda f: (f.t or 0.0))
    return Analysis(source, events[0].t if events else 0.0, events[-1].t if events else 0.0, frames,
                    parties_table, attempts, sessions, empty, findings, sum(1 for r in events if r.error),
                    _stats(link))

