"""Charts of one test's timeline, as SVG: the message sequence chart and the timing plots.

- `sequence_chart`: both sides as lanes (car, charger; which one is the DUT), the control pilot as its own lane,
  every message with its time and response time, notes for state transitions, long request/response loops folded
  (`CurrentDemand ×48`), the violation row highlighted in red with its requirement and sentence.
- `response_time_plot`: each exchange's response time (log scale) against its spec limit.
- `cp_plot`: CP voltage and PWM duty over time.
- `power_plot`: EVSE present voltage/current against the EV's targets (and both sides' limits) during PreCharge and
  CurrentDemand.

Each returns SVG text, or None when the timeline has nothing to draw (no CP records, no power loop).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from harness.records import Record
from reports import analysis as an
from reports.svg import Axis, LogAxis, Svg, fmt, nice_ticks

ROLE_TITLES = {"pev": "EV (PEV / EVCC)", "evse": "Charger (EVSE / SECC)"}
MAX_ROWS = 600  # after folding; a longer trace is cut with a note pointing at the timeline file
FOLD_MIN_REPEATS = 4  # a pattern repeated this often (or more) is folded to first two and last repetition


# --------------------------------------------------------------------------- sequence chart


@dataclass
class Row:
    kind: str  # msg | local | cp | note | test | fold | cut
    index: int
    t: float
    sender: str | None = None
    label: str = ""
    detail: str = ""
    tooltip: str = ""
    key: tuple = ()
    violation: an.Violation | None = None
    response: an.Exchange | None = None
    folded: list[Row] = field(default_factory=list)


def _tooltip(index: int, record: Record) -> str:
    parts = [f"#{index} t={record.t:.6f} {record.layer} {an.message_name(record)}"]
    if record.src or record.dst:
        parts.append(f"{record.src or '?'} → {record.dst or '?'}")
    if record.dir:
        parts.append(record.dir)
    if record.error:
        parts.append(f"error: {record.error}")
    if record.body is not None and record.layer not in ("exi", "homeplug"):  # message bodies: see the timeline
        text = json.dumps(record.body, separators=(",", ":"), default=str)
        parts.append(text if len(text) <= 160 else text[:160] + "…")
    return "\n".join(parts)


def sequence_rows(records: list[Record], dut_role: str | None) -> list[Row]:
    sides = an.Sides.learn(records, dut_role)
    marks: dict[int, an.Violation] = {}
    for violation in an.violations(records):
        if violation.index not in marks or marks[violation.index].kind == "error":
            marks[violation.index] = violation
    responses = {ex.response: ex for ex in an.exchanges(records, sides)}
    rows: list[Row] = []
    for index, record in an.iter_indexed(records):
        name = an.message_name(record)
        row = Row(kind="note", index=index, t=record.t, label=name, detail=an.detail(record),
                  tooltip=_tooltip(index, record), violation=marks.get(index), response=responses.get(index))
        if record.layer in ("homeplug", "sdp", "v2gtp", "exi"):
            if sides.is_local(record):
                row.kind = "local"
                row.sender = sides.by_address.get(an._address(record.src) or "") or \
                    sides.by_address.get(an._address(record.dst) or "") or sides.tester_role
            else:
                row.kind = "msg"
                row.sender = sides.sender(record)
                if row.sender is None:
                    row.kind = "note"
        elif record.layer == "cp":
            row.kind = "cp"
            row.sender = record.src if record.src in an.ROLES else None
            row.label = _cp_label(record)
        elif record.layer == "test":
            row.kind = "test"
            body = record.body if isinstance(record.body, dict) else {}
            if body.get("message"):
                row.detail = str(body["message"])
        else:
            row.sender = sides.sender(record)
            row.label = f"{record.layer}: {name}" if record.layer != "state" else name
        row.key = (row.kind, record.layer, name, row.sender)
        rows.append(row)
    return _fold(rows)


def _cp_label(record: Record) -> str:
    body = record.body if isinstance(record.body, dict) else {}
    if record.name == "oscillator":
        if body.get("state") in ("E", "F"):
            return f"force {body['state']}"
        return f"PWM {float(body['duty']):g} %" if body.get("duty") is not None else "PWM off (DC)"
    if record.name == "load":
        return f"load → {body.get('state', '?')}"
    state = body.get("state") or record.name.replace("state ", "")
    volts = body.get("volts")
    return f"{state} {float(volts):g} V" if isinstance(volts, (int, float)) else f"state {state}"


def _fold(rows: list[Row]) -> list[Row]:
    """Fold runs of a repeating pattern (period 1–4 rows) that repeats at least FOLD_MIN_REPEATS times: keep the
    first two repetitions and the last, replace the middle with one `fold` row. Highlighted rows never fold."""
    out: list[Row] = []
    i = 0
    while i < len(rows):
        best = None
        for period in (2, 1, 3, 4):
            block = [r.key for r in rows[i:i + period]]
            if len(block) < period:
                break
            repeats = 1
            while [r.key for r in rows[i + repeats * period:i + (repeats + 1) * period]] == block:
                repeats += 1
            if repeats >= FOLD_MIN_REPEATS and (best is None or repeats * period > best[0] * best[1]):
                best = (repeats, period)
        if best is None:
            out.append(rows[i])
            i += 1
            continue
        repeats, period = best
        run = rows[i:i + repeats * period]
        keep_head, keep_tail = run[:2 * period], run[-period:]
        middle = run[2 * period:-period]
        if any(r.violation is not None for r in middle):
            # never hide a highlighted row: emit the run unfolded up to and including it, then go on folding
            cut = next(k for k, r in enumerate(run) if r.violation is not None)
            out.extend(run[:cut + 1])
            i += cut + 1
            continue
        out.extend(keep_head)
        if middle:
            names = " / ".join(dict.fromkeys(r.label for r in middle[:period]))
            out.append(Row(kind="fold", index=middle[0].index, t=middle[0].t, folded=middle,
                           label=f"⋮ {len(middle) // period} more × {names}",
                           detail=f"t {middle[0].t:.3f}–{middle[-1].t:.3f} s, records #{middle[0].index}–"
                                  f"#{middle[-1].index}; all of them are in the timeline"))
        out.extend(keep_tail)
        i += repeats * period
    return out


# geometry
_W = 980
_X_TIME, _X_DELTA, _X_CP, _X_PEV, _X_EVSE = 6, 62, 170, 320, 790
_ROW, _TOP = 20, 58


def _lane_x(role: str | None) -> float:
    return {"pev": _X_PEV, "evse": _X_EVSE}.get(role or "", (_X_PEV + _X_EVSE) / 2)


def sequence_chart(records: list[Record], dut_role: str | None = None, *, chart_id: str | None = None,
                   title: str = "Message sequence", t0: float | None = None, standalone: bool = False) -> str:
    rows = sequence_rows(records, dut_role)
    if len(rows) > MAX_ROWS:
        hidden = len(rows) - MAX_ROWS
        keep = rows[:MAX_ROWS]
        violating = [r for r in rows[MAX_ROWS:] if r.violation is not None]
        rows = keep + violating
        rows.append(Row(kind="cut", index=-1, t=rows[-1].t,
                        label=f"… {hidden} more rows not drawn: see the timeline file"))
    origin = _origin(records) if t0 is None else t0
    heights = [2 * _ROW if r.violation is not None and r.violation.kind == "violation" else _ROW for r in rows]
    height = _TOP + sum(heights) + 16
    svg = Svg(_W, height, "cc-seq", title, chart_id)
    sides_known = dut_role in an.ROLES
    # lane heads
    for role in an.ROLES:
        x = _lane_x(role)
        is_dut = sides_known and role == dut_role
        svg.rect(x - 95, 6, 190, 36, "cc-dut" if is_dut else "cc-lanehead", rx=4)
        svg.text(x, 21, ROLE_TITLES[role], "cc-head", "middle")
        who = ("DUT" if is_dut else "ccs-hil (tester)") if sides_known else ""
        svg.text(x, 36, who, "cc-small", "middle")
    svg.rect(_X_CP - 42, 6, 84, 36, "cc-cp", rx=4)
    svg.text(_X_CP, 21, "Control pilot", "cc-head", "middle")
    svg.text(_X_CP, 36, "IEC 61851-1", "cc-small", "middle")
    svg.text(_X_TIME, 36, "t [s]", "cc-small")
    svg.text(_X_DELTA, 36, "response", "cc-small")
    for x in (_X_CP, _X_PEV, _X_EVSE):
        svg.line(x, 44, x, height - 8, "cc-lane")
    y = _TOP
    for row, row_height in zip(rows, heights, strict=True):
        _draw_row(svg, row, y, row_height, origin, chart_id)
        y += row_height
    return svg.render(standalone)


def _origin(records: list[Record]) -> float:
    """t of the first event for capture clocks (epoch seconds); 0 for test clocks."""
    if records and records[0].extra.get("clock") == "capture" and len(records) > 1:
        return records[1].t
    return 0.0


def _arrow(svg: Svg, x1: float, x2: float, y: float, cls: str) -> None:
    svg.line(x1, y, x2, y, cls)
    sign = 1 if x2 > x1 else -1
    head = "cc-ah-viol" if cls == "cc-violline" else "cc-ah"
    svg.add(f'<path d="M{fmt(x2)} {fmt(y)}l{fmt(-7 * sign)} -4v8z" class="{head}"/>')


def _draw_row(svg: Svg, row: Row, y: float, row_height: float, origin: float, chart_id: str | None) -> None:
    mid = y + 13
    group_id = ""
    if row.violation is not None and row.violation.kind == "violation" and chart_id:
        group_id = f' id="{chart_id}-viol"'
    svg.add(f'<g class="cc-row cc-k-{row.kind}" data-i="{row.index}"{group_id}>')
    if row.tooltip:
        from html import escape
        svg.add(f"<title>{escape(row.tooltip, quote=False)}</title>")
    if row.violation is not None:
        svg.rect(0, y, _W, row_height, "cc-viol" if row.violation.kind == "violation" else "cc-err")
    if row.kind not in ("fold", "cut"):
        svg.text(_X_TIME, mid + 4, f"{row.t - origin:.3f}", "cc-t")
    if row.response is not None:
        late = not row.response.ok
        limit = f" (limit {row.response.limit.seconds * 1000:g} ms, {row.response.limit.name})" \
            if row.response.limit else ""
        svg.text(_X_DELTA, mid + 4, f"{row.response.seconds * 1000:.1f} ms", "cc-t cc-late" if late else "cc-t",
                 tooltip=f"response time {row.response.seconds * 1000:.3f} ms{limit}")
    violating = row.violation is not None and row.violation.kind == "violation"
    label = f"{row.label}  {row.detail}".strip() if row.detail else row.label
    if row.kind == "msg":
        x1, x2 = _lane_x(row.sender), _lane_x(an.Sides.other(row.sender or "pev"))
        cls = "cc-violline" if violating else "cc-msg"
        _arrow(svg, x1, x2, mid + 3, cls)
        svg.text((x1 + x2) / 2, mid - 1, _clip(label, 78), "cc-label", "middle")
    elif row.kind == "local":
        x = _lane_x(row.sender)
        direction = 1 if x < (_X_PEV + _X_EVSE) / 2 else -1
        svg.add(f'<path d="M{fmt(x)} {fmt(mid - 3)}h{fmt(direction * 24)}v8h{fmt(-direction * 24)}" class="cc-local"/>')
        svg.text(x + direction * 30, mid + 4, _clip(f"{label} (own modem)", 60), "cc-small",
                 "start" if direction > 0 else "end")
    elif row.kind == "cp":
        svg.rect(_X_CP - 42, y + 3, 84, 15, "cc-cp", rx=7)
        svg.text(_X_CP, mid + 3, _clip(row.label, 15), "cc-small", "middle")
        if row.sender in an.ROLES:
            svg.line(_X_CP + 42, mid + 1, _lane_x(row.sender), mid + 1, "cc-local")
    elif row.kind in ("test", "fold", "cut"):
        svg.rect(_X_PEV - 60, y + 2, _X_EVSE - _X_PEV + 120, row_height - 4 if not violating else _ROW - 4,
                 "cc-fold" if row.kind != "test" else "cc-note", rx=3)
        text = row.label if row.kind != "test" else f"test: {label}"
        svg.text((_X_PEV + _X_EVSE) / 2, mid + 3, _clip(text, 110), "cc-small" if row.kind != "test" else "cc-label",
                 "middle", tooltip=row.detail if row.kind == "fold" else None)
    else:  # note on a lane
        x = _lane_x(row.sender)
        text = _clip(label, 30)
        width = min(220, 12 + 6.2 * len(text))
        svg.rect(x - width / 2, y + 3, width, 15, "cc-note", rx=3)
        svg.text(x, mid + 3, text, "cc-small", "middle")
    if violating:
        message = f"✗ {row.violation.requirement + ': ' if row.violation.requirement else ''}{row.violation.message}"
        svg.text(_X_PEV - 50, y + _ROW + 14, _clip(message, 100), "cc-violtext")
    svg.add("</g>")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- timing plots

_PW, _LEFT, _RIGHT = 980, 70, 20


def _time_axis(svg: Svg, x: Axis, y_bottom: float, low: float, high: float, label: bool = True) -> None:
    svg.line(_LEFT, y_bottom, _PW - _RIGHT, y_bottom, "cc-axis")
    for tick in nice_ticks(low, high, 8):
        if low - 1e-9 <= tick <= high + 1e-9:
            px = x(tick)
            svg.line(px, y_bottom, px, y_bottom + 4, "cc-axis")
            svg.text(px, y_bottom + 15, f"{tick:g}", "cc-small", "middle")
    if label:
        svg.text(_PW - _RIGHT, y_bottom + 28, "time [s]", "cc-small", "end")


def _legend(svg: Svg, y: float, items: list[tuple[str, str]]) -> None:
    x = _LEFT
    for cls, text in items:
        svg.line(x, y - 4, x + 22, y - 4, cls)
        svg.text(x + 27, y, text, "cc-small")
        x += 40 + 6 * len(text)


def response_time_plot(records: list[Record], dut_role: str | None = None, *, chart_id: str | None = None,
                       standalone: bool = False) -> str | None:
    found = an.exchanges(records, an.Sides.learn(records, dut_role))
    if not found:
        return None
    origin = _origin(records)
    values = [e.seconds for e in found] + [e.limit.seconds for e in found if e.limit]
    low = 1e-4
    high = max(10.0 ** math.ceil(math.log10(max(max(values), 1e-3) * 1.5)), 1.0)
    t_low, t_high = found[0].t - origin, max(e.t - origin for e in found)
    if t_high <= t_low:
        t_high = t_low + 1.0
    height = 250
    svg = Svg(_PW, height, "cc-resp", "Response time per message vs its limit", chart_id)
    y = LogAxis(low, high, 200, 30)
    x = Axis(t_low, t_high + (t_high - t_low) * 0.02, _LEFT + 10, _PW - _RIGHT - 10)
    decade = low
    while decade <= high * 1.0001:
        py = y(decade)
        svg.line(_LEFT, py, _PW - _RIGHT, py, "cc-grid")
        svg.text(_LEFT - 6, py + 4, _ms(decade), "cc-small", "end")
        decade *= 10
    svg.text(12, 20, "response time (log)", "cc-small")
    _time_axis(svg, x, 200, t_low, t_high)
    for exchange in found:
        px = x(exchange.t - origin)
        if exchange.limit:
            ly = y(exchange.limit.seconds)
            svg.line(px - 5, ly, px + 5, ly, "cc-limit")
        tip = (f"{exchange.response_name} {exchange.seconds * 1000:.1f} ms"
               + (f" / {exchange.limit.seconds * 1000:g} ms" if exchange.limit else "")
               + ("" if exchange.ok else f" OVER THE LIMIT ({exchange.limit.name})"))  # type: ignore[union-attr]
        svg.circle(px, y(max(exchange.seconds, low)), 3 if exchange.ok else 4.5,
                   "cc-pt" if exchange.ok else "cc-pt-bad", tip)
    svg.circle(_LEFT + 6, height - 12, 3, "cc-pt")
    svg.text(_LEFT + 14, height - 8, "response time", "cc-small")
    svg.line(_LEFT + 110, height - 12, _LEFT + 124, height - 12, "cc-limit")
    svg.text(_LEFT + 130, height - 8, "spec limit of the request (V2G_EVCC_Msg_Timeout, TT_match_response, SDP)",
             "cc-small")
    svg.circle(_LEFT + 560, height - 12, 4.5, "cc-pt-bad")
    svg.text(_LEFT + 568, height - 8, "over the limit", "cc-small")
    return svg.render(standalone)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


def cp_plot(records: list[Record], *, chart_id: str | None = None, standalone: bool = False) -> str | None:
    samples = an.cp_samples(records)
    if not samples:
        return None
    origin = _origin(records)
    end = max(records[-1].t, samples[-1].t) - origin
    start = min(0.0, samples[0].t - origin)
    by_order = end - start < 1e-6  # nothing took time (a virtual-clock test at one instant): plot in order
    if by_order:
        instant = start
        samples = [dataclasses.replace(s, t=float(i)) for i, s in enumerate(samples)]
        origin, start, end = 0.0, 0.0, float(max(len(samples) - 1, 1))
    svg = Svg(_PW, 290, "cc-cpplot", "Control pilot: voltage and PWM duty over time", chart_id)
    x = Axis(start, end, _LEFT, _PW - _RIGHT)
    yv = Axis(-13, 13, 120, 22)
    yd = Axis(0, 100, 238, 160)
    for tick in (-12, -6, 0, 3, 6, 9, 12):
        svg.line(_LEFT, yv(tick), _PW - _RIGHT, yv(tick), "cc-grid")
        svg.text(_LEFT - 6, yv(tick) + 4, f"{tick} V", "cc-small", "end")
    for tick in (0, 25, 50, 75, 100):
        svg.line(_LEFT, yd(tick), _PW - _RIGHT, yd(tick), "cc-grid")
        svg.text(_LEFT - 6, yd(tick) + 4, f"{tick} %", "cc-small", "end")
    svg.line(_LEFT, yd(5), _PW - _RIGHT, yd(5), "cc-grid")
    svg.text(_PW - _RIGHT - 2, yd(5) - 3, "5 % = digital communication", "cc-small", "end")
    svg.text(12, 14, "CP voltage (positive level)", "cc-small")
    svg.text(12, 154, "PWM duty (none = DC)", "cc-small")
    volts = [(x(s.t - origin), yv(s.volts)) for s in samples if s.volts is not None]
    if volts:
        svg.path(volts + [(x(end), volts[-1][1])], "cc-s1", step=True)
    # duty: draw segments where PWM is on, leave gaps where it is off
    segment: list[tuple[float, float]] = []
    for sample in samples:
        px = x(sample.t - origin)
        if sample.duty is None:
            if segment:
                svg.path(segment + [(px, segment[-1][1])], "cc-s2", step=True)
                segment = []
            continue
        segment.append((px, yd(sample.duty)))
    if segment:
        svg.path(segment + [(x(end), segment[-1][1])], "cc-s2", step=True)
    last_px, last_state = -100.0, None
    for sample in samples:
        if sample.state and sample.state != last_state and sample.volts is not None:
            px = x(sample.t - origin)
            if px - last_px >= 14:
                svg.text(px + 2, yv(sample.volts) - 4, sample.state, "cc-head")
                last_px = px
            last_state = sample.state
        if sample.duty is not None:
            svg.circle(x(sample.t - origin), yd(sample.duty), 2.2, "cc-d2",
                       f"t={sample.t - origin:.3f} s PWM {sample.duty:g} % ({sample.source})")
    _time_axis(svg, x, 246, start, end, label=not by_order)
    if by_order:
        svg.text(_PW - _RIGHT, 274, f"record order: every change at t = {instant:g} s (no time passed)", "cc-small",
                 "end")
    _legend(svg, 284, [("cc-s1", "CP voltage"), ("cc-s2", "PWM duty")])
    return svg.render(standalone)


_POWER_SERIES = {
    "voltage": [("EVTargetVoltage", "cc-s1", "EV target voltage"),
                ("EVSEPresentVoltage", "cc-s2", "EVSE present voltage"),
                ("EVSEMaximumVoltageLimit", "cc-s3", "EVSE max voltage"),
                ("EVMaximumVoltageLimit", "cc-s4", "EV max voltage")],
    "current": [("EVTargetCurrent", "cc-s1", "EV target current"),
                ("EVSEPresentCurrent", "cc-s2", "EVSE present current"),
                ("EVSEMaximumCurrentLimit", "cc-s3", "EVSE max current"),
                ("EVMaximumCurrentLimit", "cc-s4", "EV max current")],
}


def power_plot(records: list[Record], *, chart_id: str | None = None, standalone: bool = False) -> str | None:
    points = an.power_points(records)
    if not points:
        return None
    origin = _origin(records)
    start, end = points[0].t - origin, points[-1].t - origin
    if end <= start:
        end = start + 1.0
    limiter = an.limiting_side(points)
    title = "EVSE present voltage/current vs EV targets (PreCharge, CurrentDemand)"
    svg = Svg(_PW, 430, "cc-power", title, chart_id)
    x = Axis(start, end + (end - start) * 0.01, _LEFT, _PW - _RIGHT)
    # phase bands
    phases: list[tuple[str, float, float]] = []
    for point in points:
        t = point.t - origin
        if phases and phases[-1][0] == point.phase:
            phases[-1] = (point.phase, phases[-1][1], t)
        else:
            phases.append((point.phase, t, t))
    for name, a, b in phases:
        svg.rect(x(a), 22, max(x(b) - x(a), 2), 360, "cc-phase")
        svg.text(x(a) + 3, 34, name, "cc-small")
    panels = (("voltage", "V", 40, 190), ("current", "A", 220, 370))
    for kind, unit, top, bottom in panels:
        series = _POWER_SERIES[kind]
        values = [p.values[k] for p in points for k, _, _ in series if k in p.values]
        if not values:
            svg.text(_LEFT + 10, (top + bottom) / 2, f"no {kind} values in the power loop messages", "cc-small")
            continue
        low, high = min(0.0, min(values)), max(values) * 1.08 or 1.0
        y = Axis(low, high, bottom, top)
        for tick in nice_ticks(low, high, 4):
            if low <= tick <= high:
                svg.line(_LEFT, y(tick), _PW - _RIGHT, y(tick), "cc-grid")
                svg.text(_LEFT - 6, y(tick) + 4, f"{tick:g} {unit}", "cc-small", "end")
        for key, cls, _label in series:
            pts = [(x(p.t - origin), y(p.values[key])) for p in points if key in p.values]
            if pts:
                svg.path(pts, cls, step=True)
                if key.startswith("EVSEPresent"):  # the measured value gets a dot (and a tooltip) per sample
                    for (px, py), point in zip(pts, [p for p in points if key in p.values], strict=True):
                        svg.circle(px, py, 1.8, "cc-d" + cls[-1], f"{point.values[key]:g} {unit} "
                                   f"{point.t - origin:.3f} s")
    _time_axis(svg, x, 384, start, end)
    _legend(svg, 414, [("cc-s1", "EV target"), ("cc-s2", "EVSE present"), ("cc-s3", "EVSE maximum"),
                       ("cc-s4", "EV maximum")])
    if limiter:
        who, why = limiter
        svg.text(_PW - _RIGHT, 14, f"current demand limited by the {'EVSE' if who == 'evse' else 'EV'}: {why}",
                 "cc-small", "end")
    return svg.render(standalone)
