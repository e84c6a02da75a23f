"""Golden test on a recorded run: `ccs-hil report DIR` rebuilds index.html; check its structure (not pixels)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.cli import main
from reports.model import slug


class Page(HTMLParser):
    """Flat list of elements (tag, attrs, text inside, position) — enough to check ids, order and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self.stack: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "pos": len(self.elements), "parent": None}
        if self.stack:
            element["parent"] = self.stack[-1]
        self.elements.append(element)
        if tag not in ("meta", "br", "line", "rect", "circle", "path", "input"):
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": "", "pos": len(self.elements),
                              "parent": self.stack[-1] if self.stack else None})

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index]["tag"] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        for element in self.stack:
            element["text"] += data

    def by_id(self, ident):
        found = [e for e in self.elements if e["attrs"].get("id") == ident]
        assert len(found) == 1, f"{ident}: {len(found)} elements"
        return found[0]

    def children(self, parent):
        return [e for e in self.elements if e["parent"] is parent]

    def within(self, parent):
        out, todo = [], [parent]
        while todo:
            node = todo.pop()
            for child in self.children(node):
                out.append(child)
                todo.append(child)
        return sorted(out, key=lambda e: e["pos"])


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture
def built(recorded_run, capsys):
    assert main(["report", str(recorded_run)]) == 0
    out = capsys.readouterr().out
    return recorded_run, parse(recorded_run / "index.html"), out


FAILING = "testcases/din70121/dut_evse/test_timing.py::test_current_demand_response_time"


def test_header_identifies_rig_dut_tool_and_counts(built):
    _, page, out = built
    header = page.by_id("summary")["text"]
    for expected in ("charger", "our PEV against a real charger", "EVSE", "vendor: pyPLC", "EVSEID",
                     "5a5a3030303030", "urn:din:70121:2012:MsgDef", "MAC-QCA7420-1.4.0.20-00-20171027-CS",
                     "ccs-hil 0.1.0", "Duration", "pytest testcases/ --rig=charger --report out", "FAIL"):
        assert expected in header, expected
    counts = " ".join(page.by_id("counts")["text"].split())
    assert "Tests (5):" in counts and "PASS 3" in counts and "FAIL 1" in counts and "SKIPPED 1" in counts
    assert "verdict FAIL: 3 passed, 1 failed, 1 skipped" in out and "report: " in out


def test_failure_is_stated_in_one_sentence_at_the_top(built):
    _, page, _ = built
    failures, matrix, tests = page.by_id("failures"), page.by_id("matrix"), page.by_id("tests")
    assert failures["pos"] < matrix["pos"] < tests["pos"]
    items = [e for e in page.within(failures) if e["tag"] == "li"]
    assert len(items) == 1
    anchor = "test-" + slug(FAILING)
    assert any(e["tag"] == "a" and e["attrs"].get("href") == f"#{anchor}" for e in page.within(items[0]))
    assert "V2G-DC-464: CurrentDemandRes came 433.8 ms after CurrentDemandReq" in items[0]["text"]
    section = page.by_id(anchor)
    kids = page.children(section)
    assert kids[0]["tag"] == "h3" and "FAIL" in kids[0]["text"]
    assert "failbox" in kids[1]["attrs"].get("class", "")  # right under the title, before any chart
    assert "V2G-DC-464" in kids[1]["text"] and "the EV waits at most 250 ms" in kids[1]["text"]
    jump = next(e for e in page.within(kids[1]) if e["tag"] == "a")["attrs"]["href"]
    assert jump == f"#{anchor}-seq-viol"
    violation = page.by_id(f"{anchor}-seq-viol")
    assert "433.8 ms" in violation["text"]


def test_matrix_rows_statuses_and_links(built):
    _, page, _ = built
    rows = [e for e in page.within(page.by_id("matrix-table")) if e["tag"] == "tr" and "data-status" in e["attrs"]]
    statuses = {" ".join(page.children(r)[0]["text"].split()): r["attrs"]["data-status"] for r in rows}
    assert statuses == {"V2G-DC-464": "fail", "V2G-DC-458": "pass", "V2G-DC-388": "pass",
                        "IEC61851-1:2017 Table A.6 Seq 8.1": "pass", "CCSHIL-CP-009": "skipped",
                        "V2G2-690": "not covered", "CCSHIL-CP-777": "pass"}
    skipped = next(r for r in rows if r["attrs"]["data-status"] == "skipped")
    assert "needs cp-measurement" in skipped["text"]
    uncatalogued = next(r for r in rows if "CCSHIL-CP-777" in r["text"])
    assert "not listed in REQUIREMENTS.md" in uncatalogued["text"]
    ids = {e["attrs"]["id"] for e in page.elements if "id" in e["attrs"]}
    for link in (e["attrs"]["href"] for e in page.elements if e["tag"] == "a" and
                 e["attrs"].get("href", "").startswith("#")):
        assert link[1:] in ids, link


def test_every_test_has_a_section_with_charts_and_files(built):
    root, page, _ = built
    sections = [e for e in page.elements if e["tag"] == "section" and "test" in e["attrs"].get("class", "").split()]
    assert len(sections) == 5
    charts = {s["attrs"]["id"]: {c for e in page.within(s) if e["tag"] == "svg"
                                 for c in e["attrs"]["class"].split() if c.startswith("cc-") and c != "cc-chart"}
              for s in sections}
    din = "test-" + slug("testcases/din70121/dut_evse/test_session.py::test_full_session")
    assert charts[din] == {"cc-seq", "cc-resp", "cc-cpplot", "cc-power"}
    assert charts["test-" + slug("testcases/cp/dut_evse/test_cp.py::test_cp_sequence")] == {"cc-seq", "cc-cpplot"}
    for href in (e["attrs"]["href"] for e in page.elements if e["tag"] == "a" and
                 not e["attrs"].get("href", "#").startswith("#")):
        assert (root / href).is_file(), href
    files = [e["attrs"]["href"] for e in page.within(page.by_id(din)) if e["tag"] == "a"]
    assert any(f.endswith("capture.pcapng") for f in files) and any(f.endswith("timeline.jsonl") for f in files)


def test_page_is_self_contained_and_rebuild_is_stable(built):
    root, page, _ = built
    text = (root / "index.html").read_text()
    assert "http://" not in text and "https://" not in text
    assert not any(e["tag"] in ("link", "img", "iframe") for e in page.elements)
    assert not any("src" in e["attrs"] for e in page.elements)
    assert [e["tag"] for e in page.elements].count("style") == 1
    assert main(["report", "-q", str(root)]) == 0
    assert (root / "index.html").read_text() == text


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a directory" in err[0]
    assert main(["report", str(tmp_path)]) == 2
    assert "run.json: no such file" in capsys.readouterr().err


def test_broken_timeline_still_gives_a_report(recorded_run, capsys):
    timeline = next((recorded_run / "tests").glob("*test_full_session*/timeline.jsonl"))
    timeline.write_text('{"t": 0, "layer": "meta", "name": "stream"}\n{"t": "x"}\n')
    assert main(["report", str(recorded_run)]) == 0
    assert "timeline unreadable" in capsys.readouterr().err
    assert "timeline unreadable" in (recorded_run / "index.html").read_text()
