"""What the report reads from a rig file: [rig] and [dut] tables, the sections' own settings, odd files."""

from __future__ import annotations

from reports.rig import dut_from_rig, rig_info

RIG = """
[rig]
name = "ioniq"
description = "Our EVSE vs a Hyundai Ioniq"
clock = "monotonic"
stack_role = "evse"

[dut]
kind = "vehicle"
name = "Hyundai Ioniq Electric 28 kWh (2017)"
identification = { vin = "KMHC851CGLU000000", evcc_mac = "" }

[cp]
driver = "scpi"
resource = "USB0::0x0957::0x2807::MY00000000::INSTR"

[cp.measure]
kind = "scope"

[plc]
transport = "raw"
interface = "eth1"
"""


def test_rig_and_dut_tables(tmp_path):
    (tmp_path / "rigs").mkdir()
    (tmp_path / "rigs" / "ioniq.toml").write_text(RIG)
    info = rig_info("ioniq", tmp_path)
    assert (info.name, info.clock, info.path) == ("ioniq", "monotonic", "rigs/ioniq.toml")
    assert info.description == "Our EVSE vs a Hyundai Ioniq"
    assert info.details == {"rig.stack_role": "evse", "cp.driver": "scpi",
                            "cp.resource": "USB0::0x0957::0x2807::MY00000000::INSTR", "plc.transport": "raw",
                            "plc.interface": "eth1"}
    assert dut_from_rig("ioniq", tmp_path) == {"kind": "vehicle", "name": "Hyundai Ioniq Electric 28 kWh (2017)",
                                               "identification.vin": "KMHC851CGLU000000"}
    assert rig_info(str(tmp_path / "rigs" / "ioniq.toml"), tmp_path).name == "ioniq"


def test_missing_or_broken_rig_file_still_gives_a_name(tmp_path, monkeypatch):
    monkeypatch.delenv("CCS_HIL_RIG", raising=False)
    assert rig_info(None, tmp_path).name == "sim" and rig_info(None, tmp_path).path is None
    (tmp_path / "rigs").mkdir()
    (tmp_path / "rigs" / "bad.toml").write_text("[rig\nname=")
    info = rig_info("bad", tmp_path)
    assert info.name == "bad" and "not readable" in info.description
    assert dut_from_rig("bad", tmp_path) == {}
    monkeypatch.setenv("CCS_HIL_RIG", "bad")
    assert rig_info(None, tmp_path).name == "bad"
