"""The analysis as text tables: capture, parties, SLAC attempts, each V2G session (durations, timeline, response
times against their limits, the charge loop and who limits the power), and the findings."""

from __future__ import annotations

from datetime import datetime, timezone

from harness.analyse.session import Analysis, MessageStats, V2gSession
from harness.checks import reason_text

_WHO = {"ev-target": "EV (target delivered)", "ev-max-current": "EV (its max current)", "evse-max-current": "EVSE (its max current)",
        "evse-max-power": "EVSE (its max power)", "evse-limit-flag": "EVSE (says limit reached)",
        "evse-regulation": "EVSE (does not deliver)", "evse-ramping": "EVSE (ramping up)", "no-answer": "— (no answer)", "no-values": "?"}


def _utc(t: float, date: bool = False) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f" if date else
                                                              "%H:%M:%S.%f")[:-3]


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.3f} s"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip() for row in rows]


def render(analysis: Analysis) -> str:
    a = analysis
    rel = a.first
    lines = [f"ccs-hil analyse {a.source}",
             f"capture   {_utc(a.first, True)} → {_utc(a.last)} UTC ({a.last - a.first:.1f} s), {a.frames} frames, "
             f"{a.errors} undecodable records", f"summary   {a.summary()}", ""]
    lines.append("parties")
    rows = []
    for side in ("EV", "EVSE", "modems"):
        found = a.parties.get(side) or {}
        cells = [f"{key} {', '.join(values)}" for key, values in found.items() if key != "firmware"]
        rows.append([side, "  ".join(cells) or "not seen"])
        for firmware in found.get("firmware", []):
            rows.append(["", f"firmware {firmware}"])
    lines += _table(rows)
    lines += ["", f"SLAC ({len(a.slac)} attempt{'s' if len(a.slac) != 1 else ''})"]
    if a.slac:
        rows = [["#", "start", "EV MAC", "RunID", "PARM.REQ", "PARM.CNF", "sounds", "ATTEN_CHAR", "result"]]
        for number, attempt in enumerate(a.slac, 1):
            result = attempt.outcome()
            if attempt.matched:
                result = f"matched in {_s(attempt.duration)} with {attempt.evse_mac} (NID {attempt.nid})"
            rows.append([str(number), f"+{attempt.start - rel:.3f}", attempt.ev_mac, attempt.run_id,
                         str(attempt.parm_sends), str(attempt.parm_answers), str(attempt.sounds),
                         f"{attempt.atten_char_ind}/{attempt.atten_char_rsp}", result])
        lines += _table(rows)
    else:
        lines.append("  no SLAC messages in the capture")
    if a.link_stats:
        lines.append("  response times of SLAC, SDP and modem requests")
        lines += _stats_table(a.link_stats)
    if a.empty_connections:
        lines += ["", "TCP connections without V2G messages: " +
                  ", ".join(f"{n} {kind}" for kind, n in a.empty_connections.items())]
    for session in a.sessions:
        lines += [""] + _session(session, rel)
    lines += ["", f"findings ({len(a.findings)})"]
    if a.findings:
        rows = [["time", "check", "requirement", "what"]]
        rows += [[f"+{(f.t or rel) - rel:.3f}", f.rule, f.requirement or "—", f.message] for f in a.findings]
        lines += _table(rows)
    else:
        lines.append("  none")
    return "\n".join(lines) + "\n"


def _stats_table(stats: list[MessageStats]) -> list[str]:
    rows = [["request", "n", "sent", "min", "median", "max", "limit", "over", "unanswered"]]
    for stat in stats:
        rows.append([stat.name, str(stat.count), str(stat.sends), _ms(stat.minimum), _ms(stat.median), _ms(stat.maximum),
                     stat.limit or "—", str(stat.over), str(stat.unanswered)])
    return _table(rows, "    ")


def _session(s: V2gSession, rel: float) -> list[str]:
    route = (f"[{s.ev_ip}]:{s.ev_port} → [{s.evse_ip}]:{s.evse_port}" if s.ev_ip else f"connection {s.conn}")
    lines = [f"session {s.number}: {s.protocol or s.schema or 'protocol unknown'}, TCP {route}",
             f"  EVCCID {s.evccid or '—'}  EVSEID {s.evseid or '—'}  SessionID {s.session_id or '—'}  "
             f"handshake {s.sap or '—'}"]
    durations = []
    if s.slac and s.slac.duration is not None:
        durations.append(f"SLAC {_s(s.slac.duration)}")
    if s.sdp_seconds is not None:
        durations.append(f"SDP {_s(s.sdp_seconds)} ({s.sdp_requests} request{'s' if s.sdp_requests != 1 else ''})")
    times = {name: t for name, t, _ in s.phases}
    if s.tcp_open is not None and "PowerDelivery" in times:
        durations.append(f"TCP open→PowerDelivery {_s(times['PowerDelivery'] - s.tcp_open)}")
    for loop in s.loops:
        if loop.count > 1 or loop.limit is not None or loop.pair in ("CurrentDemand", "ChargingStatus"):
            bound = f" (limit {loop.limit.seconds:g} s{'' if loop.ok else ' EXCEEDED'})" if loop.limit else ""
            durations.append(f"{loop.pair} ×{loop.count} {_s(loop.seconds)}{bound}")
    start = s.slac.answered_send if s.slac and s.slac.answered_send else (s.tcp_open or s.start)
    durations.append(f"total {_s(s.end - start)}")
    lines.append("  durations  " + " · ".join(durations))
    lines.append("  timeline   " + ", ".join(f"+{t - rel:.3f} {name}" + (f" ×{n}" if n > 1 else "")
                                             for name, t, n in s.phases))
    lines.append(f"  ended      {s.ending}")
    lines.append("  response times (request → response, against the limit the requester waits with)")
    lines += _stats_table(s.stats)
    if s.power is not None:
        lines.append(f"  power      {s.power.sentence}")
        rows = [["from", "to", "n", "EV target", "EVSE present", "EVSE max", "EVSE status", "who limits"]]
        for seg in s.power_segments:
            rows.append([f"+{seg.start - rel:.3f}", f"+{seg.end - rel:.3f}", str(seg.count), seg.target, seg.present,
                         seg.evse_max, seg.status or "—", _WHO.get(seg.reason, seg.reason)])
        lines += _table(rows, "    ")
        notes = sorted({seg.reason for seg in s.power_segments if seg.reason not in ("no-answer", "no-values")})
        lines += [f"    {_WHO.get(r, r)}: {reason_text(r, ['EVSE*LimitAchieved'])}" for r in notes]
    lines.append(f"  findings   {len(s.findings)}")
    return lines
