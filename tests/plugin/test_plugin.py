"""The pytest plugin as a user meets it: --rig, skips, markers, --dut-fault, per-test output."""

from __future__ import annotations

import json

import pytest

from tests.plugin.helpers import REPO, run_pytest


def test_unknown_rig_is_one_clear_line():
    result = run_pytest("testcases/", "--rig=nope")
    assert result.returncode == 4
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["ERROR: ccs-hil: unknown rig 'nope' (available: charger, ioniq, josev-evcc, josev-secc, loopback, "
                     "loopback-sim, sim, simnet; or give a path to a .toml file)"]
    assert "Traceback" not in result.stdout + result.stderr


def test_invalid_rig_file_names_file_key_and_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[rig]\nname = "bad"\nstack_role = "evse"\n[dut]\nkind = "vehicle"\n'
                   '[cp]\ndriver = "scpi"\nresource = 5\n')
    result = run_pytest("testcases/", f"--rig={bad}")
    assert result.returncode == 4
    assert f"{bad}: cp.resource: expected a string, got 5" in result.stderr
    assert "Traceback" not in result.stderr


def test_ioniq_without_hardware_skips_every_test_naming_what_is_missing():
    result = run_pytest("testcases/", "--rig=ioniq", "-rs", "-q")
    assert result.returncode == 0, result.stdout
    assert "Traceback" not in result.stdout
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    vehicle = [s for s in skips if "test_vehicle_cp.py" in s]
    charger = [s for s in skips if "test_charger_cp.py" in s]
    assert vehicle and charger
    assert all("needs cp-generator: VISA resource USB0::0x0957::0x2807::MY00000000::INSTR not found" in s
               for s in vehicle), vehicle
    assert all("dut_role evse: rig ioniq tests a vehicle (pev)" in s for s in charger), charger
    assert " passed" not in result.stdout and " failed" not in result.stdout


def test_sim_runs_the_cp_catalogue_and_writes_timelines(tmp_path):
    result = run_pytest("testcases/cp", "--rig=sim", "-q", f"--ccs-out={tmp_path}")
    assert result.returncode == 0, result.stdout
    assert "28 passed" in result.stdout
    timelines = sorted(tmp_path.glob("sim/**/timeline.jsonl"))
    assert len(timelines) == 28
    records = [json.loads(line) for line in timelines[0].read_text().splitlines()]
    assert records[0]["layer"] == "meta" and records[0]["clock"] == "virtual" and records[0]["rig"] == "sim"
    assert records[-1]["name"] == "result" and records[-1]["body"]["outcome"] == "passed"
    assert any(r["layer"] == "cp" for r in records)


@pytest.mark.parametrize(("fault", "failing"), [
    ("no-diode", ["test_vehicle_diode_keeps_negative_half_at_minus_12V"]),
    ("wrong-duty", ["test_charger_duty_matches_its_current_limit"]),
])
def test_a_faulty_simulated_dut_fails_the_catalogue(tmp_path, fault, failing):
    result = run_pytest("testcases/cp", "--rig=sim", "-q", f"--dut-fault={fault}", f"--ccs-out={tmp_path}")
    assert result.returncode == 1
    failed = [line.split("::")[1].split(" ")[0] for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert failed == failing
    assert "requirement CCSHIL-CP-" in result.stdout  # the failure names what was checked


def test_unknown_dut_fault_and_fault_on_a_real_rig_are_usage_errors():
    result = run_pytest("testcases/", "--dut-fault=gremlins")
    assert result.returncode == 4 and "unknown --dut-fault gremlins (known: " in result.stderr
    result = run_pytest("testcases/", "--rig=ioniq", "--dut-fault=no-diode")
    assert result.returncode == 4 and "--dut-fault needs a simulated DUT; rig ioniq has a real vehicle" in result.stderr


def test_markers_are_documented():
    result = run_pytest("--markers")
    for marker in ("@pytest.mark.requirement(*ids)", "@pytest.mark.dut_role(role)", "@pytest.mark.needs(*capabilities)"):
        assert marker in result.stdout


def test_needs_and_dut_role_skip_instead_of_erroring(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "@pytest.mark.needs('power-stage')\n"
        "def test_power(bench):\n    pass\n"
        "@pytest.mark.dut_role('evse')\n"
        "def test_charger(cp_load):\n    assert cp_load is not None\n"
        "@pytest.mark.dut_role('pev')\n"
        "def test_no_load_for_a_vehicle_dut(cp_load):\n    pass\n")
    result = run_pytest("-rs", "-q", "--rig=sim", f"--ccs-out={tmp_path / 'out'}", cwd=tmp_path)
    assert "SKIPPED [1] test_x.py:2: needs power-stage: rig sim does not have it" in result.stdout
    assert "needs cp-load: rig sim has no vehicle-side CP load for a pev DUT (cp.driver = 'sim')" in result.stdout
    assert "1 passed, 2 skipped" in result.stdout


def test_report_header_names_the_rig():
    result = run_pytest("testcases/", "--co", "--rig=sim")
    assert "ccs-hil rig: sim (" in result.stdout and "ccs-hil capabilities: cp-generator" in result.stdout


def test_plugin_is_loaded_through_the_entry_point_from_any_directory(tmp_path):
    (tmp_path / "test_y.py").write_text("def test_rig(rig):\n    assert rig.name == 'sim'\n")
    result = run_pytest("-q", cwd=tmp_path)
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert REPO not in tmp_path.parents
