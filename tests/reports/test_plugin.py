"""The report plugin inside a real pytest run (subprocess): --report, JUnit properties, allure attachments,
terminal summary and the one-sentence failure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"

CONFTEST = f'''
import pytest
from pathlib import Path
from harness.records import Record, Timeline, read_jsonl

DATA = Path({str(DATA)!r})


def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(*ids): requirement IDs the test checks")
    config.addinivalue_line("markers", "dut_role(role): evse or pev")
    config.addinivalue_line("markers", "recorded(name): timeline file to replay")


class RequirementViolation(AssertionError):
    def __init__(self, requirement, message):
        super().__init__(message)
        self.requirement = requirement


@pytest.fixture
def violation():
    return RequirementViolation


@pytest.fixture
def timeline(request):
    marker = request.node.get_closest_marker("recorded")
    records = read_jsonl(DATA / marker.args[0]) if marker else None
    tl = Timeline("virtual", 1764250000.0)
    for record in (records or [])[1:]:
        tl.add(record)
    yield tl
    # teardown puts the CP generator back to safe: the report must see this record
    tl.add(Record(t=(tl.records[-1].t if len(tl) > 1 else 0) + 0.001, layer="cp", name="oscillator",
                  src="tester", body={{"duty": None, "state": None}}, extra={{"safe": True}}))
'''

TESTS = '''
import pytest

pytestmark = pytest.mark.dut_role("evse")


@pytest.mark.requirement("V2G-DC-458", "V2G-DC-388")
@pytest.mark.recorded("din_dut_evse_pass.jsonl")
def test_full_session(timeline):
    assert timeline.first("SessionSetupRes") is not None


@pytest.mark.requirement("V2G-DC-464")
@pytest.mark.recorded("din_dut_evse_late_currentdemand.jsonl")
def test_current_demand_response_time(timeline, violation):
    raise violation("V2G-DC-464", "CurrentDemandRes came 433.8 ms after CurrentDemandReq; the EV waits at most "
                    "250 ms (V2G_EVCC_Msg_Timeout_CurrentDemandReq)\\n  #120 ... timeline slice ...")


@pytest.mark.requirement("IEC61851-1:2017 Table A.6 Seq 8.1")
@pytest.mark.recorded("cp_dut_evse_sequence.jsonl")
def test_cp_sequence(timeline):
    assert timeline.first("state C") is not None


@pytest.mark.requirement("CCSHIL-CP-009")
def test_cp_level_measured():
    pytest.skip("needs cp-measurement")


@pytest.mark.requirement("CCSHIL-CP-777")
def test_plain_assert(timeline):
    value = 3
    assert value == 4
'''


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("plugin")
    (base / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (base / "testcases" / "din").mkdir(parents=True)
    (base / "testcases" / "din" / "test_catalogue.py").write_text(TESTS, encoding="utf-8")
    (base / "testcases" / "REQUIREMENTS.md").write_text((DATA / "REQUIREMENTS.md").read_text(), encoding="utf-8")
    import subprocess
    import sys

    out, junit, allure_dir = base / "out", base / "junit.xml", base / "allure-results"
    proc = subprocess.run([sys.executable, "-m", "pytest", "testcases", "-p", "no:cacheprovider", "--report",
                           str(out), "--junitxml", str(junit), "--alluredir", str(allure_dir)],
                          cwd=base, capture_output=True, text=True, timeout=120)
    return {"proc": proc, "out": out, "junit": junit, "allure": allure_dir}


def test_run_fails_like_pytest_and_prints_the_summary(plugin_run):
    proc = plugin_run["proc"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout
    assert "ccs-hil conformance report" in text
    assert "verdict FAIL: 2 passed, 2 failed, 1 skipped" in text
    assert "V2G-DC-464: CurrentDemandRes came 433.8 ms" in text
    assert f"report: {(plugin_run['out'] / 'index.html').resolve()}" in text


def test_report_recording_has_every_test_with_outcome_and_sentence(plugin_run):
    run = json.loads((plugin_run["out"] / "run.json").read_text())
    assert run["format"] == "ccs-hil-recording" and run["version"] == 1
    tests = {t["nodeid"].rsplit("::", 1)[1]: t for t in run["tests"]}
    assert {k: t["outcome"] for k, t in tests.items()} == {
        "test_full_session": "passed", "test_current_demand_response_time": "failed",
        "test_cp_sequence": "passed", "test_cp_level_measured": "skipped", "test_plain_assert": "failed"}
    late = tests["test_current_demand_response_time"]["failure"]
    assert late["requirement"] == "V2G-DC-464"
    assert late["sentence"].startswith("CurrentDemandRes came 433.8 ms") and "\n" not in late["sentence"]
    plain = tests["test_plain_assert"]["failure"]
    assert plain["requirement"] == "CCSHIL-CP-777" and plain["sentence"] == "assert 3 == 4"
    assert tests["test_cp_level_measured"]["skip_reason"] == "needs cp-measurement"
    assert tests["test_full_session"]["requirements"] == ["V2G-DC-458", "V2G-DC-388"]
    assert run["run"]["dut"]["role"] == "evse"
    assert "5a5a3030303030" in run["run"]["dut"]["evseid"]
    # the teardown record (CP back to safe) made it into the saved timeline
    timeline = (plugin_run["out"] / tests["test_full_session"]["files"]["timeline"]).read_text().splitlines()
    assert '"safe":true' in timeline[-1]
    for kind in ("capture", "sequence_svg", "response_svg", "power_svg", "cp_svg"):
        assert (plugin_run["out"] / tests["test_full_session"]["files"][kind]).is_file(), kind
    assert (plugin_run["out"] / "REQUIREMENTS.md").is_file()
    html = (plugin_run["out"] / "index.html").read_text()
    assert 'id="matrix-table"' in html and "V2G-DC-464" in html


def test_junit_names_every_test_with_its_requirements(plugin_run):
    root = ET.parse(plugin_run["junit"]).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {"test_full_session", "test_current_demand_response_time", "test_cp_sequence",
                          "test_cp_level_measured", "test_plain_assert"}
    requirements = {name: [p.get("value") for p in case.iter("property") if p.get("name") == "requirement"]
                    for name, case in cases.items()}
    assert requirements["test_full_session"] == ["V2G-DC-458", "V2G-DC-388"]
    assert requirements["test_cp_sequence"] == ["IEC61851-1:2017 Table A.6 Seq 8.1"]
    assert all(requirements.values())
    roles = {name: [p.get("value") for p in case.iter("property") if p.get("name") == "dut_role"]
             for name, case in cases.items()}
    assert all(r == ["evse"] for r in roles.values())


def test_allure_results_list_the_attachments(plugin_run):
    results = [json.loads(p.read_text()) for p in Path(plugin_run["allure"]).glob("*-result.json")]
    by_name = {r["name"]: r for r in results}
    names = {a["name"] for a in by_name["test_full_session"].get("attachments", [])}
    assert {"message sequence chart", "response times vs limits", "control pilot: voltage and PWM",
            "power loop: EVSE present vs EV targets", "capture.pcapng", "timeline.jsonl"} <= names
    failing = {a["name"] for a in by_name["test_current_demand_response_time"]["attachments"]}
    assert "failed requirement" in failing
    for attachment in by_name["test_full_session"]["attachments"]:
        assert (Path(plugin_run["allure"]) / attachment["source"]).stat().st_size > 0
    svg = next(a for a in by_name["test_full_session"]["attachments"] if a["name"] == "message sequence chart")
    assert svg["type"] == "image/svg+xml"
    assert (Path(plugin_run["allure"]) / svg["source"]).read_text().startswith("<?xml")


def test_without_report_option_no_report_but_junit_properties(tmp_path):
    (tmp_path / "test_one.py").write_text(
        "import pytest\n\n@pytest.mark.requirement('V2G2-001')\ndef test_x():\n    pass\n", encoding="utf-8")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W",
                           "ignore::pytest.PytestUnknownMarkWarning", "--junitxml", "j.xml", "test_one.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ccs-hil conformance report" not in proc.stdout
    assert not (tmp_path / "out").exists()
    props = [p.get("value") for p in ET.parse(tmp_path / "j.xml").getroot().iter("property")]
    assert props == ["V2G2-001"]


def test_progress_lines(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_long.py").write_text('''
from harness.records import Record

def test_long_session(timeline):
    for n in range(3):
        timeline.add(Record(t=float(n), layer="exi", name="CurrentDemandReq"))

def test_next():
    pass
''', encoding="utf-8")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--report", "out",
                           "--report-progress", "0", "test_long.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("[ccs-hil] test_long.py::test_long_session: running") and "CurrentDemandReq" in line
               for line in lines), proc.stdout
    assert any(line.startswith("[ccs-hil] 2/2 tests done · 0 failed") for line in lines), proc.stdout
    quiet = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--report", "out",
                            "--report-progress", "-1", "test_long.py"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    assert "[ccs-hil]" not in quiet.stdout
