"""`ccs-hil rigs` lists the shipped rigs with their capabilities."""

from harness.cli import main


def test_rigs_lists_every_shipped_rig(capsys):
    assert main(["rigs"]) == 0
    out = capsys.readouterr().out
    for name in ("sim", "ioniq", "loopback", "charger", "simnet"):
        assert f"\n{name} " in f"\n{out}"
    assert "virtual clock · our stack: per-test · DUT: simulated" in out
