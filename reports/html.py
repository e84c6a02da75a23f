"""The report page: ONE self-contained `index.html` (inline CSS, inline SVG, a few lines of inline JS; no CDN,
no fonts, no images to fetch), so it opens offline and can be mailed as one file. The raw material beside it
(timelines, pcapng, SVG files) is linked with relative paths.

Page order is what a reader needs first: the verdict and the header (rig, DUT, tool, date, duration, counts), the
failures list — each failing test with the requirement it failed and why, in one sentence — then the requirement
matrix, then every test (grouped by catalogue area) with its verdict line on top, its charts and its links.
Stable ids for tests and tools: `summary`, `failures`, `matrix`, `matrix-table`, `tests`, `test-<slug>` per test,
`req-<slug>` per requirement, `<test-id>-seq` for a sequence chart and `<test-id>-seq-viol` for its violation.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable
from html import escape

from reports.model import MatrixRow, Run, TestResult
from reports.svg import STYLE as CHART_STYLE

VERDICT_LABEL = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIPPED", "xfailed": "XFAIL",
                 "xpassed": "XPASS"}

PAGE_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;
 background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:16px 20px 60px}
h1{font-size:22px;margin:4px 0 10px}h2{font-size:18px;margin:26px 0 8px;border-bottom:2px solid #e5e7eb;
 padding-bottom:4px}h3{font-size:15px;margin:0 0 6px;word-break:break-all}
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:700;margin-left:6px}
.v-PASS,.b-passed,.s-pass{background:#15803d;color:#fff}
.v-FAIL,.b-failed,.b-xpassed,.s-fail{background:#b91c1c;color:#fff}
.b-error{background:#7f1d1d;color:#fff}
.v-SKIPPED,.v-NO-TESTS,.b-skipped,.s-skipped{background:#6b7280;color:#fff}
.b-xfailed{background:#b45309;color:#fff}
.s-not-covered{background:#e5e7eb;color:#374151}
.badge{display:inline-block;min-width:64px;text-align:center;padding:1px 6px;border-radius:3px;font-size:12px;
 font-weight:700}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #e5e7eb;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}
table.meta th{width:170px}
.counts span{margin-right:14px;white-space:nowrap}
.failbox{background:#fef2f2;border:1px solid #fecaca;border-left:6px solid #dc2626;padding:8px 10px;margin:6px 0;
 border-radius:4px;font-weight:600;color:#7f1d1d}
.failbox .req{font-family:ui-monospace,Menlo,Consolas,monospace}
#failures ol{background:#fff;border:1px solid #fecaca;padding:8px 8px 8px 34px;margin:0}
#failures li{margin:3px 0}
.test{background:#fff;border:1px solid #e5e7eb;border-left:6px solid #9ca3af;border-radius:4px;padding:10px 12px;
 margin:10px 0}
.test.o-passed{border-left-color:#15803d}.test.o-failed,.test.o-xpassed{border-left-color:#dc2626}
.test.o-error{border-left-color:#7f1d1d}.test.o-xfailed{border-left-color:#b45309}
.facts{color:#4b5563;font-size:13px;margin:2px 0 6px}
.facts code,.reqlist code{font-size:12px}
details{margin:6px 0}summary{cursor:pointer;font-weight:600;color:#374151}
.chart{overflow-x:auto;border:1px solid #eef0f2;background:#fff;margin:4px 0}
.chart svg{display:block}
pre{background:#0f172a;color:#e2e8f0;padding:8px 10px;overflow:auto;font-size:12px;max-height:480px;
 border-radius:4px}
.skipreason{color:#4b5563;font-style:italic}
.filters button{margin:0 4px 6px 0;padding:2px 10px;border:1px solid #d1d5db;background:#fff;border-radius:12px;
 cursor:pointer}
.filters button.on{background:#1f2937;color:#fff}
.muted{color:#6b7280}.small{font-size:12px}
.group{margin-top:18px;color:#374151}
td.id{font-family:ui-monospace,Menlo,Consolas,monospace;max-width:230px;overflow-wrap:anywhere}
"""

PAGE_JS = """
(function(){
  var bar=document.getElementById('matrix-filters');
  if(!bar){return;}
  var rows=document.querySelectorAll('#matrix-table tbody tr');
  bar.addEventListener('click',function(ev){
    var b=ev.target; if(!b||!b.getAttribute||!b.getAttribute('data-status')){return;}
    var want=b.getAttribute('data-status');
    Array.prototype.forEach.call(bar.querySelectorAll('button'),function(x){x.classList.toggle('on',x===b);});
    Array.prototype.forEach.call(rows,function(r){
      r.style.display=(want==='all'||r.getAttribute('data-status')===want)?'':'none';});
  });
  var open=document.getElementById('expand-all');
  if(open){open.addEventListener('click',function(){
    Array.prototype.forEach.call(document.querySelectorAll('#tests details'),function(d){d.open=true;});});}
})();
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _when(epoch: float) -> str:
    if not epoch:
        return "?"
    stamp = _dt.datetime.fromtimestamp(epoch, tz=_dt.timezone.utc).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M:%S %Z")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def failure_headline(test: TestResult) -> str:
    """The one sentence a reader sees for a failing test: which requirement, and why."""
    if test.failure is not None:
        return test.failure.headline
    if test.outcome == "xpassed":
        return "expected to fail (xfail) but passed"
    return f"{test.outcome} without a recorded reason"


def render_header(run: Run, matrix: list[MatrixRow]) -> str:
    counts = run.counts()
    verdict = run.verdict
    dut = run.dut
    rows = [("Rig", f"<b>{_e(run.rig.name)}</b>" + (f" — {_e(run.rig.description)}" if run.rig.description else "")
             + (f' <span class="muted">({_e(run.rig.path)}, {_e(run.rig.clock or "?")} clock)</span>'
                if run.rig.path or run.rig.clock else ""))]
    dut_bits = []
    if dut.role:
        dut_bits.append(f"role <b>{_e(dut.role.upper())}</b> ({'charger' if dut.role == 'evse' else 'car'})")
    else:
        roles = [t.dut_role for t in run.tests if t.dut_role]
        if roles:
            split = ", ".join(f"{r.upper()} in {roles.count(r)}" for r in sorted(set(roles)))
            dut_bits.append(f"role per test ({_e(split)})")
    dut_bits.extend(f"{_e(k)}: <b>{_e(v)}</b>" for k, v in dut.from_rig.items())
    for label, values in (("EVCCID", dut.evccid), ("EVSEID", dut.evseid), ("protocol", dut.protocols),
                          ("modem firmware", dut.modem_firmware), ("MAC", dut.macs)):
        if values:
            dut_bits.append(f"{label}: <code>{_e(', '.join(values))}</code>")
    rows.append(("Device under test", "; ".join(dut_bits) or '<span class="muted">not identified</span>'))
    if run.rig.details:
        rows.append(("Rig settings", '<span class="small">' + " · ".join(
            f"{_e(k)} <b>{_e(v)}</b>" for k, v in run.rig.details.items()) + "</span>"))
    rows += [("Tool", _e(run.tool)), ("Date", _e(_when(run.started))), ("Duration", _e(_duration(run.duration))),
             ("Command", f"<code>{_e(' '.join(run.argv))}</code>" if run.argv else '<span class="muted">—</span>')]
    for note in run.notes:
        rows.append(("Note", _e(note)))
    req_counts = {s: sum(r.status == s for r in matrix) for s in ("pass", "fail", "skipped", "not covered")}
    count_html = " ".join(f'<span><span class="badge b-{o}">{VERDICT_LABEL[o]}</span> {counts[o]}</span>'
                          for o in counts if counts[o] or o in ("passed", "failed", "skipped"))
    req_html = " ".join(f'<span><span class="badge s-{s.replace(" ", "-")}">{s}</span> {n}</span>'
                        for s, n in req_counts.items())
    table = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return (f'<header id="summary"><h1>{_e(run.title)} <span class="verdict v-{verdict.replace(" ", "-")}">'
            f"{_e(verdict)}</span></h1>"
            f'<p class="counts" id="counts"><b>Tests ({len(run.tests)}):</b> {count_html}</p>'
            f'<p class="counts" id="req-counts"><b>Requirements ({len(matrix)}):</b> {req_html}</p>'
            f'<table class="meta">{table}</table></header>')


def render_failures(run: Run) -> str:
    failed = run.failures
    if not failed:
        return '<section id="failures"><h2>Failures (0)</h2><p>No test failed.</p></section>'
    items = []
    for test in failed:
        items.append(f'<li><span class="badge b-{test.outcome}">{VERDICT_LABEL[test.outcome]}</span> '
                     f'<a href="#{test.anchor}">{_e(test.nodeid)}</a><br><span class="failline">'
                     f"{_e(failure_headline(test))}</span></li>")
    return f'<section id="failures"><h2>Failures ({len(failed)})</h2><ol>{"".join(items)}</ol></section>'


def render_matrix(matrix: list[MatrixRow], source: str | None) -> str:
    if not matrix:
        note = "No requirement list was found (testcases/REQUIREMENTS.md) and no test cites a requirement."
        return f'<section id="matrix"><h2>Requirement matrix</h2><p class="muted">{_e(note)}</p></section>'
    body = []
    for row in matrix:
        tests = ", ".join(f'<a href="#{t.anchor}" title="{_e(t.outcome)}">{_e(t.name)}</a>' for t in row.tests)
        text = row.row.text if row.row else "(cited by a test, not listed in REQUIREMENTS.md)"
        source_cell = _e(row.row.source) if row.row and row.row.source else ""
        body.append(f'<tr id="{row.anchor}" data-status="{_e(row.status)}"><td class="id">{_e(row.id)}</td>'
                    f'<td><span class="badge s-{row.status.replace(" ", "-")}">{_e(row.status)}</span></td>'
                    f"<td>{_e(text)}</td><td>{source_cell}</td><td>{tests or '—'}</td><td>{_e(row.reason)}</td></tr>")
    buttons = "".join(f'<button type="button" data-status="{s}"{" class=on" if s == "all" else ""}>{s}</button>'
                      for s in ("all", "fail", "pass", "skipped", "not covered"))
    origin = f'<p class="muted">From {_e(source)}.</p>' if source else ""
    return (f'<section id="matrix"><h2>Requirement matrix</h2>{origin}<div class="filters" id="matrix-filters">'
            f"{buttons}</div><table id=\"matrix-table\"><thead><tr><th>Requirement</th><th>Status</th>"
            f"<th>Demands</th><th>Source</th><th>Tests</th><th>Reason / note</th></tr></thead><tbody>"
            f'{"".join(body)}</tbody></table></section>')


def render_test(test: TestResult, parts: dict[str, str]) -> str:
    """One test's section. `parts`: optional `sequence`, `response`, `response_table`, `cp`, `power` (inline SVG
    or HTML), `timeline_text`, `note`."""
    out = [f'<section class="test o-{test.outcome}" id="{test.anchor}">',
           f'<h3><span class="badge b-{test.outcome}">{VERDICT_LABEL[test.outcome]}</span> {_e(test.nodeid)}</h3>']
    if test.is_failure:
        headline = failure_headline(test)
        req = test.failure.requirement if test.failure else None
        shown = _e(headline)
        if req:
            shown = f'<span class="req">{_e(req)}</span>: {_e(test.failure.sentence)}'  # type: ignore[union-attr]
        link = f' <a href="#{test.anchor}-seq-viol">(in the sequence chart)</a>' if parts.get("has_violation") else ""
        out.append(f'<div class="failbox">{shown}{link}</div>')
    if test.outcome == "skipped" and test.skip_reason:
        out.append(f'<p class="skipreason">skipped: {_e(test.skip_reason)}</p>')
    reqs = ", ".join(f'<a href="#req-{_req_slug(r)}"><code>{_e(r)}</code></a>' for r in test.requirements) or "—"
    facts = [f"requirements: {reqs}", f"duration {test.duration:.3f} s"]
    if test.dut_role:
        facts.append(f"DUT role {test.dut_role.upper()}")
    if test.started:
        facts.append(_e(_when(test.started)))
    out.append(f'<p class="facts reqlist">{" · ".join(facts)}</p>')
    links = []
    for kind, label in (("capture", "capture.pcapng"), ("source_capture", "original capture"),
                        ("timeline", "timeline.jsonl"), ("sequence_svg", "sequence chart (SVG)"),
                        ("response_svg", "response times (SVG)"), ("cp_svg", "CP plot (SVG)"),
                        ("power_svg", "power plot (SVG)")):
        if kind in test.files:
            links.append(f'<a href="{_e(test.files[kind])}" class="file-{kind}">{_e(label)}</a>')
    if links:
        out.append(f'<p class="facts links">files: {" · ".join(links)}</p>')
    if parts.get("note"):
        out.append(f'<p class="muted">{_e(parts["note"])}</p>')
    open_attr = " open" if test.is_failure else ""
    if parts.get("sequence"):
        out.append(f'<details class="seq"{open_attr}><summary>Message sequence chart</summary>'
                   f'<div class="chart">{parts["sequence"]}</div></details>')
    timing = [parts[k] for k in ("response", "response_table", "cp", "power") if parts.get(k)]
    if timing:
        wrapped = "".join(f'<div class="chart">{t}</div>' if t.startswith("<svg") else t for t in timing)
        out.append(f'<details class="timing"{open_attr}><summary>Timing plots</summary>{wrapped}</details>')
    if test.failure and test.failure.detail:
        out.append(f'<details class="detail"><summary>Failure detail ({_e(test.failure.phase)})</summary>'
                   f"<pre>{_e(test.failure.detail[:30000])}</pre></details>")
    if parts.get("timeline_text"):
        out.append(f'<details class="timeline"><summary>Timeline</summary><pre>{_e(parts["timeline_text"])}</pre>'
                   f"</details>")
    out.append("</section>")
    return "".join(out)


def _req_slug(rid: str) -> str:
    from reports.model import slug

    return slug(rid)


def render_tests(tests: Iterable[tuple[TestResult, str]]) -> str:
    out = ['<section id="tests"><h2>Tests</h2><p><button type="button" id="expand-all">expand all</button></p>']
    group = None
    for test, html in tests:
        area = test.nodeid.split("::", 1)[0].rsplit("/", 1)[0] if "/" in test.nodeid else ""
        if area != group:
            group = area
            out.append(f'<h3 class="group">{_e(area or "(root)")}</h3>')
        out.append(html)
    out.append("</section>")
    return "".join(out)


def render_page(run: Run, matrix: list[MatrixRow], test_sections: list[tuple[TestResult, str]]) -> str:
    data = {"verdict": run.verdict, "counts": run.counts(), "tool": run.tool, "rig": run.rig.name}
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{_e(run.tool)}">',
        f"<title>{_e(run.title)} — {_e(run.verdict)} — {_e(run.rig.name)}</title>",
        f"<style>{PAGE_CSS}{CHART_STYLE}</style></head><body><main>",
        render_header(run, matrix),
        '<nav class="facts"><a href="#failures">Failures</a> · <a href="#matrix">Requirement matrix</a> · '
        '<a href="#tests">Tests</a></nav>',
        render_failures(run),
        render_matrix(matrix, run.requirements_source),
        render_tests(test_sections),
        '<script type="application/json" id="run-data">' + json.dumps(data).replace("</", "<\\/") + "</script>",
        f"<script>{PAGE_JS}</script></main></body></html>\n",
    ])
