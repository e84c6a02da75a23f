"""Build the report from a recording: per test the charts (inline and as SVG files), the pcapng capture, the
failure sentence; then `index.html`. Used by the pytest plugin at the end of a run, by `ccs-hil report DIR` and by
`ccs-hil analyse CAPTURE --report DIR` alike — one code path, so a rebuilt report equals the live one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.records import Record
from reports import analysis as an
from reports import charts
from reports import html as page
from reports.model import Failure, Run, TestResult
from reports.pcapng import write_pcapng
from reports.recording import RecordingError, load_run, save_run
from reports.svg import standalone

TIMELINE_TEXT_LINES = 1500  # failing tests get their timeline inline, around the violation


@dataclass
class BuildResult:
    index: Path
    run: Run
    warnings: list[str] = field(default_factory=list)


def build_report(root: str | Path, run: Run | None = None, *, save: bool = True,
                 prebuilt: dict[str, dict[str, str]] | None = None) -> BuildResult:
    """(Re)write every derived file under `root` from the raw recording (or from `run`, when given live).
    `prebuilt` maps node ids to parts the live plugin already made at the end of each test (same code path)."""
    root = Path(root)
    if run is None:
        run = load_run(root)
    prebuilt = prebuilt or {}
    warnings: list[str] = []
    sections: list[tuple[TestResult, str]] = []
    for test in run.tests:
        if test.nodeid in prebuilt:
            sections.append((test, page.render_test(test, prebuilt[test.nodeid])))
            continue
        try:
            records = test.timeline()
            note = ""
        except RecordingError as exc:
            records, note = [], f"timeline unreadable: {exc}"
            warnings.append(f"{test.nodeid}: {note}")
        parts = build_test(root, run, test, records)
        if note:
            parts["note"] = note
        sections.append((test, page.render_test(test, parts)))
    matrix = run.matrix()
    index = root / "index.html"
    index.write_text(page.render_page(run, matrix, sections), encoding="utf-8")
    if save:
        save_run(root, run)
    return BuildResult(index, run, warnings)


def build_test(root: Path, run: Run, test: TestResult, records: list[Record]) -> dict[str, str]:
    """Charts, capture and failure sentence of one test; returns the HTML parts and fills `test.files`."""
    parts: dict[str, str] = {}
    if len(records) <= 1:
        return parts
    role = test.dut_role or run.dut.role
    found = an.identify_dut(records, role)
    found.role = run.dut.role
    run.dut.merge(found)
    _complete_failure(test, records)
    folder = root / (test.folder or "")
    anchor = test.anchor
    made = {
        "sequence": charts.sequence_chart(records, role, chart_id=f"{anchor}-seq",
                                          title=f"Message sequence of {test.name}"),
        "response": charts.response_time_plot(records, role, chart_id=f"{anchor}-resp"),
        "cp": charts.cp_plot(records, chart_id=f"{anchor}-cp"),
        "power": charts.power_plot(records, chart_id=f"{anchor}-power"),
    }
    files = {"sequence": "sequence.svg", "response": "response-times.svg", "cp": "cp.svg", "power": "power.svg"}
    for kind, svg in made.items():
        if svg is None:
            continue
        parts[kind] = svg
        if test.folder:
            (folder / files[kind]).write_text(standalone(svg), encoding="utf-8")
            test.files[f"{kind}_svg"] = f"{test.folder}/{files[kind]}"
    parts["has_violation"] = "1" if f'id="{anchor}-seq-viol"' in (made["sequence"] or "") else ""
    table = response_table(records, role)
    if table:
        parts["response_table"] = table
    if test.folder:
        stats = write_pcapng(records, folder / "capture.pcapng", title=test.nodeid, dut_role=role,
                             application=run.tool)
        if stats.real or stats.synthetic:
            test.files["capture"] = f"{test.folder}/capture.pcapng"
        else:
            (folder / "capture.pcapng").unlink(missing_ok=True)
            test.files.pop("capture", None)
    if test.is_failure:
        parts["timeline_text"] = timeline_text(records)
    return parts


def _complete_failure(test: TestResult, records: list[Record]) -> None:
    """A failing test must name a requirement and a reason: take them from the timeline's violation record when
    the exception did not carry them, else name the test's requirement markers."""
    if not test.is_failure:
        return
    stated = an.failure_from_timeline(records)
    if test.failure is None:
        if stated:
            test.failure = Failure(stated[0] or _markers(test), stated[1])
        return
    if not test.failure.requirement:
        test.failure.requirement = (stated[0] if stated and stated[0] else None) or _markers(test)


def _markers(test: TestResult) -> str | None:
    return ", ".join(test.requirements) or None


def response_table(records: list[Record], role: str | None) -> str:
    found = an.exchanges(records, an.Sides.learn(records, role))
    if not found:
        return ""
    rows = []
    for stat in an.exchange_stats(found):
        limit = f"{stat.limit.seconds * 1000:g} ms <span class=\"muted\">{page._e(stat.limit.name)}</span>" \
            if stat.limit else "—"
        verdict = ('<span class="badge s-fail">over</span>' if stat.over_limit else
                   '<span class="badge s-pass">ok</span>' if stat.limit else "")
        rows.append(f"<tr><td>{page._e(stat.name)}</td><td>{page._e(stat.responder or '?')}</td><td>{stat.count}</td>"
                    f"<td>{stat.minimum * 1000:.1f}</td><td>{stat.median * 1000:.1f}</td>"
                    f"<td>{stat.maximum * 1000:.1f}</td><td>{limit}</td><td>{verdict}"
                    f"{f' {stat.over_limit}×' if stat.over_limit else ''}</td></tr>")
    return ('<table class="resp-table"><thead><tr><th>request</th><th>answered by</th><th>n</th><th>min ms</th>'
            "<th>median ms</th><th>max ms</th><th>limit</th><th></th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def timeline_text(records: list[Record], limit: int = TIMELINE_TEXT_LINES) -> str:
    marks = {v.index for v in an.violations(records)}
    start, stop = 1, len(records)
    if stop - start > limit:
        focus = min(marks) if marks else stop - limit // 2
        start = max(1, focus - limit // 2)
        stop = min(len(records), start + limit)
    lines = []
    if start > 1:
        lines.append(f"   … {start - 1} earlier records in timeline.jsonl")
    for index in range(start, stop):
        flag = ">>" if index in marks else "  "
        record = records[index]
        detail = an.detail(record)
        lines.append(f"{flag} #{index:<5} {record.summary()}" + (f"  {detail}" if detail and not record.error else ""))
    if stop < len(records):
        lines.append(f"   … {len(records) - stop} later records in timeline.jsonl")
    return "\n".join(lines)
