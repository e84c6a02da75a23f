"""Analyse a capture: the sessions in it, who is who, durations, response times vs limits, violations, who limits the power.

Prints the analysis as text tables (`--json`: the same as one JSON object); `--report DIR` also writes the HTML
report (one section per session, findings on top, sequence charts, timing and power plots, the original capture)
plus `analysis.txt` and `analysis.json` beside it. Exit codes: 0 analysed (whatever was found), 2 the file cannot
be read as a capture.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from harness.analyse.render import render
from harness.analyse.session import Analysis, analyse
from harness.capture import CaptureError
from harness.capture.decode import CaptureDecoder
from harness.records import Record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", help="pcap or pcapng file")
    parser.add_argument("--report", metavar="DIR", help="also write the HTML report (and analysis.txt/.json) to DIR")
    parser.add_argument("--json", action="store_true", help="print the analysis as one JSON object")
    parser.add_argument("--title", help="title of the HTML report")


# which finding heads a section of the report: what explains the failure first, consequences after
_HEADLINE_ORDER = ("runid-echo", "slac", "sequence", "session-id", "response-time", "loop-time", "power",
                   "error-code", "session-end")


def _jsonable(analysis: Analysis) -> dict[str, Any]:
    data = dataclasses.asdict(analysis)
    for session in data["sessions"]:
        session.pop("records", None)
    return data


def run(args: argparse.Namespace) -> int:
    try:
        decoder = CaptureDecoder(args.capture)
        records = [decoder.meta(), *decoder]
    except CaptureError as exc:
        print(f"ccs-hil analyse: {exc}", file=sys.stderr)
        return 2
    analysis = analyse(records, str(args.capture), decoder.stats.frames)
    text = render(analysis)
    try:
        if args.json:
            sys.stdout.write(json.dumps(_jsonable(analysis), default=str) + "\n")
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    if args.report:
        result = write_report(analysis, records, Path(args.report), Path(args.capture), args.title, text)
        print(f"report: {result}", file=sys.stderr)
    return 0


def write_report(analysis: Analysis, records: list[Record], out: Path, capture: Path, title: str | None,
                 text: str) -> Path:
    """The HTML report of issue 6 with one section per session; analysis.txt/.json beside it."""
    from reports.capture import CapturePart, build_capture_report
    from reports.model import Failure

    meta, events = records[0], records[1:]
    bounds = [s.end for s in analysis.sessions]
    names = [f"session {s.number} ({s.protocol.split(' (')[0] if s.protocol else s.schema or '?'})"
             for s in analysis.sessions]
    if not bounds or (events and events[-1].t > bounds[-1]):
        bounds.append(float("inf"))
        names.append("after the last session" if analysis.sessions else "link setup (SLAC, SDP)")
    parts: list[CapturePart] = []
    low = float("-inf")
    for name, high in zip(names, bounds, strict=True):
        chunk = [r for r in events if low < r.t <= high]
        inside = sorted((f for f in analysis.findings if low < (f.t or 0.0) <= high),
                        key=lambda f: (_HEADLINE_ORDER.index(f.rule) if f.rule in _HEADLINE_ORDER else 99, f.t or 0.0))
        found = [Failure(f.requirement, f.message) for f in inside]
        if chunk:
            parts.append(CapturePart(name, [meta, *chunk], found))
        low = high
    ev, evse = (analysis.parties.get(k, {}) for k in ("EV", "EVSE"))
    notes = [f"EV: {', '.join(ev.get('MAC', []) + ev.get('IPv6', [])) or 'not seen'}; "
             f"EVSE: {', '.join(evse.get('MAC', []) + evse.get('IPv6', [])) or 'not seen'}"]
    for session in analysis.sessions:
        if session.power is not None:
            notes.append(f"session {session.number} power: {session.power.sentence}")
    notes.insert(0, f"summary: {analysis.summary()}")
    # no DUT in a field capture: the report reads EVCCID/EVSEID, protocol and firmware from the records itself
    result = build_capture_report(records, out, capture=capture, title=title, parts=parts, notes=notes)
    (out / "analysis.txt").write_text(text, encoding="utf-8")
    (out / "analysis.json").write_text(json.dumps(_jsonable(analysis), default=str, indent=1), encoding="utf-8")
    return result.index
