"""`ccs-hil modem` and `ccs-hil slac` against the in-process emulator (`--sim`, no root needed)."""

from __future__ import annotations

import json

from harness.cli import main
from stack.homeplug import pib


def test_modem_list_info_set_key(capsys):
    assert main(["modem", "list", "--sim"]) == 0
    out = capsys.readouterr().out
    assert "00:b0:52:00:10:01  QCA7420   MAC-QCA7420-1.4.0.20-00-20171027-CS" in out
    assert main(["modem", "info", "--sim"]) == 0
    out = capsys.readouterr().out
    assert "link        no AVLN peer" in out and "pib.checksum_ok   True" in out
    assert main(["modem", "set-key", "--sim", "--nmk", "b59319d7e8157ba001b018669ccee30d"]) == 0
    assert "Result 0x01 (applied)  NID 026bcba5354e08" in capsys.readouterr().out


def test_modem_pib_write_backup_dry_run_and_write(tmp_path, capsys):
    backup = tmp_path / "b.pib"
    assert main(["modem", "pib-write", "--sim", "--profile", "pev", "--backup", str(backup), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing written" in out and "0x1653: 00 → 01" in out
    pib.validate(backup.read_bytes())
    assert main(["modem", "pib-write", "--sim", "--profile", "pev", "--backup", str(backup)]) == 0
    assert "read-back verified (HFID 'PEV')" in capsys.readouterr().out
    assert main(["modem", "pib-write", "--sim"]) == 2


def test_slac_sim_both_roles_and_json(capsys):
    assert main(["slac", "--role", "evse", "--sim"]) == 0
    out = capsys.readouterr().out
    assert "SLAC matched as EVSE" in out and "peer MAC      02:cc:00:00:00:0f" in out
    assert main(["slac", "--role", "pev", "--sim", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["layer"] == "meta" and records[0]["clock"] == "virtual"
    names = [r["name"] for r in records]
    assert "CM_SLAC_MATCH.CNF" in names
    assert [r["src"] for r in records if r["name"] == "slac_matched"] == ["peer", "pev"]  # EVSE first
