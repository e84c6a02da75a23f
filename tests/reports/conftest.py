"""Shared fixtures for the report tests: the recorded timelines in data/ and a recorded run built from them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.records import read_jsonl
from reports.model import DutInfo, Failure, RigInfo, Run, TestResult
from reports.recording import save_run, save_timeline
from reports.requirements import load_requirements

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[2]

def artifacts_dir(name: str) -> Path:
    """Where tests keep files CI should publish (screenshots, DOM dumps): $CCS_HIL_ARTIFACTS or out/test-artifacts."""
    base = Path(os.environ.get("CCS_HIL_ARTIFACTS") or REPO / "out" / "test-artifacts")
    target = base / name
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def artifacts():
    return artifacts_dir


@pytest.fixture(scope="session")
def din_pass():
    return read_jsonl(DATA / "din_dut_evse_pass.jsonl")


@pytest.fixture(scope="session")
def din_late():
    return read_jsonl(DATA / "din_dut_evse_late_currentdemand.jsonl")


@pytest.fixture(scope="session")
def cp_sequence():
    return read_jsonl(DATA / "cp_dut_evse_sequence.jsonl")


def make_recorded_run(root: Path) -> Run:
    """A recorded run as `pytest --report` leaves it: two DIN tests (one failing), a CP test, a skipped test and a
    test citing an ID the catalogue lacks — against a charger DUT on the ioniq-style rig."""
    root.mkdir(parents=True, exist_ok=True)
    run = Run(tool="ccs-hil 0.1.0", started=1764250000.0, finished=1764250095.5,
              rig=RigInfo("charger", "rigs/charger.toml", "our PEV against a real charger", "monotonic",
                          {"cp.driver": "scpi", "plc.transport": "raw"}),
              dut=DutInfo(role="evse", from_rig={"vendor": "pyPLC", "model": "EvseMode"}),
              argv=["pytest", "testcases/", "--rig=charger", "--report", "out"])
    tests = [
        (TestResult("testcases/din70121/dut_evse/test_session.py::test_full_session", "passed", 27.0,
                    ["V2G-DC-458", "V2G-DC-388"], "evse", started=1764250001.0), "din_dut_evse_pass.jsonl"),
        (TestResult("testcases/din70121/dut_evse/test_timing.py::test_current_demand_response_time", "failed",
                    27.3, ["V2G-DC-464"], "evse", started=1764250030.0,
                    failure=Failure("V2G-DC-464", "CurrentDemandRes came 433.8 ms after CurrentDemandReq; the EV "
                                    "waits at most 250 ms (V2G_EVCC_Msg_Timeout_CurrentDemandReq)",
                                    "RequirementViolation: V2G-DC-464 ...\n(timeline slice)")),
         "din_dut_evse_late_currentdemand.jsonl"),
        (TestResult("testcases/cp/dut_evse/test_cp.py::test_cp_sequence", "passed", 6.0,
                    ["IEC61851-1:2017 Table A.6 Seq 8.1"], "evse", started=1764250060.0), "cp_dut_evse_sequence.jsonl"),
        (TestResult("testcases/cp/dut_evse/test_cp.py::test_cp_level_measured", "skipped", 0.0, ["CCSHIL-CP-009"],
                    "evse", skip_reason="needs cp-measurement"), None),
        (TestResult("testcases/cp/dut_evse/test_cp.py::test_uncatalogued", "passed", 0.1, ["CCSHIL-CP-777"],
                    "evse"), None),
    ]
    for test, name in tests:
        if name:
            save_timeline(root, test, read_jsonl(DATA / name))
        run.tests.append(test)
    shutil.copyfile(DATA / "REQUIREMENTS.md", root / "REQUIREMENTS.md")
    run.requirements = load_requirements(root / "REQUIREMENTS.md")
    run.requirements_source = "testcases/REQUIREMENTS.md"
    save_run(root, run)
    return run


@pytest.fixture
def recorded_run(tmp_path) -> Path:
    root = tmp_path / "report"
    make_recorded_run(root)
    return root
