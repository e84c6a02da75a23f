"""The report of the real catalogue on the sim rig, through the skeleton's plugin and fixtures (the contract:
`timeline`/`bench` fixtures, requirement/dut_role markers, harness.assertions' failure text and assert records)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (REPO / "testcases" / "cp").is_dir(), reason="no CP catalogue in this checkout")
def test_catalogue_report_with_a_faulty_sim_dut(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "pytest", "testcases/cp", "--rig=sim", "--dut-fault", "no-diode",
                           "--report", str(out), "--ccs-out", str(tmp_path / "ccs"), "-p", "no:cacheprovider", "-q"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["run"]["rig"]["name"] == "sim" and run["run"]["rig"]["clock"] == "virtual"
    assert any("--dut-fault no-diode" in note for note in run["run"]["notes"])
    failed = [t for t in run["tests"] if t["outcome"] == "failed"]
    assert failed, "the no-diode fault must fail at least one catalogue test"
    for test in failed:
        assert test["failure"]["requirement"] and test["failure"]["requirement"] in ", ".join(test["requirements"])
        assert "\n" not in test["failure"]["sentence"] and "not met" not in test["failure"]["sentence"]
        timeline = (out / test["files"]["timeline"]).read_text().splitlines()
        assert '"name":"result"' in timeline[-1]  # the skeleton's teardown record made it in
    for test in run["tests"]:
        assert test["requirements"] and test["dut_role"] in ("evse", "pev")
        assert (out / test["files"]["sequence_svg"]).is_file() and (out / test["files"]["cp_svg"]).is_file()
    html = (out / "index.html").read_text()
    assert html.count('class="failbox"') == len(failed)
    assert "CCSHIL-CP-" in html and 'id="matrix-table"' in html
    assert "report: " in proc.stdout and "verdict FAIL" in proc.stdout
