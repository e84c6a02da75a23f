"""The report in a real browser: headless Debian chromium renders index.html from a recorded run; we take a
screenshot (kept as a CI artefact in out/test-artifacts/report-browser/, or $CCS_HIL_ARTIFACTS), dump the DOM,
check the matrix and a chart are there, the failure sentence is above the fold, and nothing went to the console.
Skips with the reason when chromium is absent (CI installs it: `apt-get install -y chromium`)."""

from __future__ import annotations

import os
import shutil

import pytest
from chromium_cdp import Browser, find_chromium

from harness.cli import main

CHROMIUM = find_chromium()
# CI as root sets CCS_HIL_REQUIRE_ALL=1: there a missing chromium must fail the test, not skip it.
needs_chromium = pytest.mark.skipif(CHROMIUM is None and os.environ.get("CCS_HIL_REQUIRE_ALL") != "1",
                                    reason="chromium not installed (apt-get install -y chromium); "
                                    "set CCS_HIL_CHROMIUM to use another binary")


@needs_chromium
def test_report_renders_in_chromium(recorded_run, artifacts):
    assert main(["report", "-q", str(recorded_run)]) == 0
    keep = artifacts("report-browser")
    with Browser(CHROMIUM, timeout=60) as browser:
        browser.open((recorded_run / "index.html").resolve().as_uri())
        shot = browser.screenshot(keep / "screenshot.png")
        dom = browser.evaluate("document.documentElement.outerHTML")
        (keep / "dom.html").write_text(dom, encoding="utf-8")
        facts = browser.evaluate("""(() => {
          const rows = [...document.querySelectorAll('#matrix-table tbody tr')];
          const seq = document.querySelectorAll('svg.cc-seq');
          const box = document.querySelector('#failures li');
          const viol = document.querySelector('[id$="-seq-viol"]');
          const firstSeq = seq.length ? seq[0].getBoundingClientRect() : null;
          return {rows: rows.length, statuses: rows.map(r => r.dataset.status), seq: seq.length,
                  plots: document.querySelectorAll('svg.cc-resp, svg.cc-cpplot, svg.cc-power').length,
                  failTop: box ? box.getBoundingClientRect().bottom : null, height: window.innerHeight,
                  failText: box ? box.innerText : '', violVisible: viol ? viol.getBoundingClientRect().height : 0,
                  seqWidth: firstSeq ? firstSeq.width : 0, title: document.title};
        })()""")
        # the matrix filter works (the page's only script)
        browser.evaluate("document.querySelector('#matrix-filters button[data-status=fail]').click()")
        shown = browser.evaluate("[...document.querySelectorAll('#matrix-table tbody tr')]"
                                 ".filter(r => r.style.display !== 'none').length")
        problems = browser.problems()
    shutil.copytree(recorded_run, keep / "report", dirs_exist_ok=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'id="matrix-table"' in dom and "cc-seq" in dom
    assert facts["rows"] == 7 and facts["statuses"].count("fail") == 1
    assert facts["seq"] == 3 and facts["plots"] >= 4 and facts["seqWidth"] > 500
    assert facts["violVisible"] > 0  # the failing test's chart is open and its violation row is laid out
    assert facts["failTop"] is not None and facts["failTop"] < facts["height"], facts  # above the fold
    assert "V2G-DC-464: CurrentDemandRes came 433.8 ms" in facts["failText"]
    assert shown == 1
    assert problems == [], problems


@needs_chromium
def test_console_errors_are_caught(tmp_path):
    """The check above can fail: a page that throws and logs an error is reported."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom');"
                    "undefinedFunction();</script></body></html>")
    with Browser(CHROMIUM, timeout=60) as browser:
        browser.open(page.as_uri())
        problems = browser.problems()
    assert any("boom" in p for p in problems) and any("undefinedFunction" in p for p in problems), problems
