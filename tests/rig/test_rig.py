"""Rig files: the shipped ones load; bad ones are rejected naming file, key path and problem."""

from __future__ import annotations

import pytest

from harness.options import RigError
from harness.rig import PACKAGE_RIGS, UnknownRig, available_rigs, from_dict, load, resolve
from tests.conftest import rig_dict


@pytest.mark.parametrize("name", ["sim", "ioniq", "loopback", "charger", "simnet", "loopback-sim"])
def test_shipped_rigs_load(name):
    rig = load(name)
    assert rig.name == name and rig.section("cp") is not None


def test_sim_is_virtual_and_role_per_test():
    rig = load("sim")
    assert (rig.clock, rig.stack_role, rig.dut_role, rig.simulated_dut) == ("virtual", "per-test", None, True)
    assert {"cp-generator", "cp-load", "cp-measurement"} <= rig.capabilities()


def test_ioniq_caps_come_from_its_drivers():
    rig = load("ioniq")
    assert rig.dut_role == "pev" and rig.capabilities() == {"cp-generator", "cp-measurement", "cp-pwm-measurement",
                                                         "plc", "plc-hardware", "ip", "ip-kernel"}


def problems(**tables):
    with pytest.raises(RigError) as info:
        from_dict(rig_dict(**tables), "rigs/bad.toml")
    return str(info.value)


def test_unknown_key_names_file_path_and_known_keys():
    text = problems(cp={"driver": "scpi", "resource": "X", "resorce": "Y"})
    assert "rigs/bad.toml: cp.resorce: unknown key (known: " in text and "resource" in text


def test_wrong_type_and_bad_choice():
    text = problems(cp={"driver": "scpi", "resource": "X", "channel": "one"},
                    rig={"name": "x", "stack_role": "car", "clock": "monotonic"})
    assert 'rigs/bad.toml: cp.channel: expected an integer, got "one"' in text
    assert 'rigs/bad.toml: rig.stack_role: "car" is not one of "evse", "pev", "per-test"' in text


def test_missing_instrument_settings():
    assert "rigs/bad.toml: cp.resource: missing (required: VISA resource of the function generator)" in problems(
        cp={"driver": "scpi"})
    assert "rigs/bad.toml: cp.driver: missing (which cp driver: relay, scpi, serial, sim)" in problems(cp={"port": "x"})


def test_requires_root_is_read():
    assert load("simnet").requires == {"root"} and load("sim").requires == frozenset()


def test_unknown_driver_and_table():
    assert "cp.driver: unknown cp driver 'gpio' (known: relay, scpi, serial, sim)" in problems(cp={"driver": "gpio"})
    assert "rigs/bad.toml: modem: unknown table (known: cp, dut, ip, limits, plc, power, rig)" in problems(modem={})


def test_nested_table_errors_have_full_paths():
    text = problems(cp={"driver": "scpi", "resource": "X", "measure": {"kind": "oscilloscope", "resource": "S"}})
    assert 'cp.measure.kind: "oscilloscope" is not one of "scope", "dmm"' in text


def test_virtual_clock_refuses_real_hardware_and_roles_must_match_the_dut():
    text = problems(rig={"name": "x", "clock": "virtual", "stack_role": "pev"},
                    cp={"driver": "serial", "port": "/dev/ttyACM0"})
    assert "cp.driver: 'serial' drives real hardware, which cannot run on the virtual clock" in text
    assert "rig.stack_role: a vehicle DUT needs our stack as evse, not 'pev'" in text


def test_every_problem_is_listed_at_once():
    text = problems(cp={"driver": "scpi", "channel": 7}, limits={"max_current_a": -1})
    assert len(text.splitlines()) == 3


def test_toml_syntax_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[rig\nname = 'x'\n")
    with pytest.raises(RigError, match=r"broken.toml: not valid TOML"):
        load(str(path))


def test_unknown_name_lists_the_rigs():
    with pytest.raises(UnknownRig) as info:
        resolve("nope")
    assert str(info.value) == ("unknown rig 'nope' (available: charger, ioniq, josev-evcc, josev-secc, loopback, "
                               "loopback-sim, sim, simnet; or give a path to a .toml file)")


def test_rig_by_path_and_by_env_dir(tmp_path, monkeypatch):
    source = (PACKAGE_RIGS / "sim.toml").read_text().replace('name = "sim"', 'name = "mine"')
    (tmp_path / "mine.toml").write_text(source)
    assert load(str(tmp_path / "mine.toml")).name == "mine"
    monkeypatch.setenv("CCS_HIL_RIGS", str(tmp_path))
    assert "mine" in available_rigs([tmp_path]) and load("mine").name == "mine"
    with pytest.raises(RigError, match="no such rig file"):
        load(str(tmp_path / "absent.toml"))
